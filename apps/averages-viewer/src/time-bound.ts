/** What a time bound may be, for the message that refuses one. */
export const TIME_BOUND_EXPECTED = 'an ISO 8601 time or epoch ms, from 1970-01-01 on';

/**
 * Parses a time bound given on the command line or in a query string: epoch milliseconds (`1798808400000`)
 * or ISO 8601 (`2027-01-01`, `2027-01-01T13:00`, `2027-01-01T13:00:00+02:00`). A time without a zone is
 * UTC, like everything else in pipe, so the answer does not depend on the machine's TZ.
 */
export function parseTimeBound(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,16}$/.test(trimmed)) return inStreamIdRange(Number(trimmed));
  const match = ISO_PATTERN.exec(trimmed);
  if (!match) return undefined;
  const [, date, time, zone] = match;
  const ms = Date.parse(time ? `${date}T${time}${zone ?? 'Z'}` : `${date}T00:00:00Z`);
  return Number.isNaN(ms) || !sameCalendarDay(date!, ms, zone) ? undefined : inStreamIdRange(ms);
}

const ISO_PATTERN =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/;

/** The latest instant a JS Date holds; later ms would not round-trip and name no real hour. */
const LATEST_MS = 8_640_000_000_000_000;

/**
 * A bound becomes a stream ID (`<ms>-0`), whose time part cannot be negative: Redis refuses
 * `-86400000-0` with an error, so a time before the epoch is a bad bound, not a read to try.
 */
function inStreamIdRange(ms: number): number | undefined {
  return ms >= 0 && ms <= LATEST_MS ? ms : undefined;
}

/** Date.parse accepts 2027-02-30 as March 2; a date that does not exist is a typo, not a bound. */
function sameCalendarDay(date: string, ms: number, zone: string | undefined): boolean {
  if (zone && zone !== 'Z') return true;
  return new Date(ms).toISOString().slice(0, 10) === date;
}
