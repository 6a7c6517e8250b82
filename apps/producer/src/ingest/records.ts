import { parseTime } from '@pipe/service';
import { decodeReading, type Reading } from '@pipe/streams';

/** A record's fields as the input format gave them, before any checking. */
export interface RawRecord {
  device?: unknown;
  ts?: unknown;
  temp_f?: unknown;
  humidity?: unknown;
}

export type RecordResult = { ok: true; reading: Reading } | { ok: false; reason: string };

/**
 * Event time in ms from epoch milliseconds (a number or digits) or ISO-8601 with a zone. A time without
 * a zone is refused: read as local time it would land in a different partition depending on TZ.
 */
export function parseTimestamp(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : `not epoch milliseconds: ${value}`;
  }
  if (typeof value !== 'string') return `must be epoch milliseconds or ISO-8601, not ${typeName(value)}`;
  const parsed = parseTime(value, { withoutZone: 'refuse' });
  return parsed.ok ? parsed.ms : parsed.reason;
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
