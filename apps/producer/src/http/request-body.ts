import type { RawRecord } from '../ingest/records.js';

/**
 * A request body's records, in order (the index a rejection names), each a raw record or the reason it
 * is not one; or why the body as a whole is not NDJSON or a JSON array, in which case nothing of it is
 * written (a client that sends garbage learns it with a 400 rather than from a list of rejections).
 */
export type ParsedBody = { ok: true; records: (RawRecord | string)[] } | { ok: false; reason: string };

/**
 * Reads a body as a JSON array of records (when its first non-blank character is `[`) or as NDJSON: one
 * JSON value per line, blank lines skipped, a single object being NDJSON of one line. A UTF-8 byte order
 * mark is dropped. A value that is JSON but not an object is a rejected record, not a bad body.
 */
export function parseReadingsBody(text: string): ParsedBody {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trimStart().startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      return { ok: false, reason: `not a JSON array: ${(err as Error).message}` };
    }
    if (!Array.isArray(value)) return { ok: false, reason: 'not a JSON array' };
    return { ok: true, records: value.map(asRecord) };
  }
  const records: (RawRecord | string)[] = [];
  const lines = body.split('\n');
  for (const [n, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      return { ok: false, reason: `line ${n + 1} is not JSON: ${(err as Error).message}` };
    }
    records.push(asRecord(value));
  }
  return { ok: true, records };
}

function asRecord(value: unknown): RawRecord | string {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as RawRecord)
    : 'not a JSON object';
}
