import { decodeReading, type Reading } from '@pipe/streams';

/** A record's fields as the input format gave them, before any checking. */
export interface RawRecord {
  device?: unknown;
  ts?: unknown;
  temp_f?: unknown;
  humidity?: unknown;
}

export type RecordResult = { ok: true; reading: Reading } | { ok: false; reason: string };

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * Event time in ms from epoch milliseconds (a number or digits) or ISO-8601 with a zone. A time without
 * a zone is refused: read as local time it would land in a different partition depending on TZ.
 */
export function parseTimestamp(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : `not epoch milliseconds: ${value}`;
  }
  if (typeof value !== 'string') return `must be epoch milliseconds or ISO-8601, not ${typeName(value)}`;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    return Number.isSafeInteger(ms) ? ms : `not epoch milliseconds: ${quote(text)}`;
  }
  const m = ISO_8601.exec(text);
  if (!m) {
    return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
      ? `ISO-8601 time without a zone (add Z or ±hh:mm): ${quote(text)}`
      : `not epoch milliseconds or ISO-8601: ${quote(text)}`;
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  const fraction = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
  const zone = m[8]!.toUpperCase();
  const local = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!, Number(fraction));
  const check = new Date(Date.UTC(year!, month! - 1, day!));
  if (
    check.getUTCMonth() !== month! - 1 ||
    check.getUTCDate() !== day! ||
    hour! > 23 ||
    minute! > 59 ||
    second! > 59
  ) {
    return `not a real date and time: ${quote(text)}`;
  }
  if (zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMs = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')) * 60_000;
  return local - sign * offsetMs;
}

/**
 * Checks a record and turns it into a reading. The numbers and the device name go through the
 * library's decoder, so the producer accepts exactly what the consumers will decode.
 */
export function toReading(record: RawRecord): RecordResult {
  for (const field of ['device', 'ts', 'temp_f'] as const) {
    const value = record[field];
    if (value === undefined || value === null || value === '')
      return { ok: false, reason: `${field}: missing` };
  }
  if (typeof record.device !== 'string') {
    return { ok: false, reason: `device: must be a string, not ${typeName(record.device)}` };
  }
  const ts = parseTimestamp(record.ts);
  if (typeof ts === 'string') return { ok: false, reason: `ts: ${ts}` };
  const fields = ['device', record.device, 'ts', String(ts)];
  for (const field of ['temp_f', 'humidity'] as const) {
    const value = record[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { ok: false, reason: `${field}: not finite: ${value}` };
      fields.push(field, String(value));
    } else if (typeof value === 'string') fields.push(field, value);
    else return { ok: false, reason: `${field}: must be a number, not ${typeName(value)}` };
  }
  const decoded = decodeReading('0-0', fields);
  return decoded.ok ? { ok: true, reading: decoded.value } : { ok: false, reason: decoded.error.message };
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
