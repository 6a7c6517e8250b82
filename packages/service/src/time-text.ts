/** Times and durations as people write and read them: in flags, input files, messages and tables. */

/**
 * ms as a short duration: 850ms, 1.5s, 12s, 4m05s, 2h10m, 3d04h. Two units at most, the second left out
 * when it is 0, so that a round duration reads as a flag would give it (2d, 1h, 90s as 1m30s).
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return twoUnits(Math.floor(s / 60), 'm', s % 60, 's');
  if (s < 86_400) return twoUnits(Math.floor(s / 3600), 'h', Math.floor(s / 60) % 60, 'm');
  return twoUnits(Math.floor(s / 86_400), 'd', Math.floor(s / 3600) % 24, 'h');
}

function twoUnits(large: number, largeUnit: string, small: number, smallUnit: string): string {
  return small === 0
    ? `${large}${largeUnit}`
    : `${large}${largeUnit}${String(small).padStart(2, '0')}${smallUnit}`;
}

/**
 * What parseTime does with an ISO-8601 time that names no zone: read it as UTC, or refuse it (where it
 * would decide which day's partition a reading lands in, a guess is worse than an error). Never local
 * time: the answer must not depend on the machine's TZ.
 */
export type WithoutZone = 'utc' | 'refuse';

export type ParsedTime = { ok: true; ms: number } | { ok: false; reason: string };

/** The latest instant a JS Date holds; later ms name no real hour and do not round-trip. */
export const LATEST_TIME_MS = 8_640_000_000_000_000;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * A point in time as text, in ms: epoch milliseconds (digits) or ISO-8601 (`2027-01-01`,
 * `2027-01-01T13:00`, `2027-01-01 13:00:05.250+02:00`; zones `Z`, `±hh`, `±hhmm`, `±hh:mm`), a time
 * without a zone as `withoutZone` says. Only times a stream ID can hold: from the epoch (an ID's time
 * cannot be negative) to the last one a Date holds. Days that do not exist (2027-02-30) are typos.
 */
export function parseTime(text: string, options: { withoutZone: WithoutZone }): ParsedTime {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return inStreamIdRange(Number(trimmed), trimmed);
  const match = ISO_8601.exec(trimmed);
  if (!match) return refused('not epoch milliseconds or ISO-8601', trimmed);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const zone = match[8]?.toUpperCase();
  if (zone === undefined && options.withoutZone === 'refuse') {
    return match[4] === undefined
      ? refused(`ISO-8601 date without a time and zone (e.g. ${match.slice(1, 4).join('-')}T00:00Z)`, trimmed)
      : refused('ISO-8601 time without a zone (add Z or ±hh:mm)', trimmed);
  }
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0-99 as 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  const milliseconds = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  date.setUTCHours(hour, minute, second, milliseconds);
  const offsetMs = zone === undefined ? 0 : zoneOffsetMs(zone);
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetMs === undefined
  ) {
    return refused('not a real date and time', trimmed);
  }
  return inStreamIdRange(date.getTime() - offsetMs, trimmed);
}

/** `Z`, `±hh`, `±hhmm` or `±hh:mm` as ms to subtract from the local time, or undefined for no real zone. */
function zoneOffsetMs(zone: string): number | undefined {
  if (zone === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const [hours, minutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2) || '0')];
  if (hours > 23 || minutes > 59) return undefined;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

/**
 * A time becomes a stream ID (`<ms>-0`), whose time part cannot be negative: Redis refuses
 * `-86400000-0`, so a time before the epoch is refused here, with the text that gave it.
 */
function inStreamIdRange(ms: number, text: string): ParsedTime {
  if (ms < 0) return refused('before 1970-01-01 (epoch milliseconds cannot be negative)', text);
  if (ms > LATEST_TIME_MS) return refused('after the last time a date can hold (+275760-09-13)', text);
  return { ok: true, ms };
}

function refused(why: string, text: string): ParsedTime {
  return {
    ok: false,
    reason: `${why}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
  };
}
