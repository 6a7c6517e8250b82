import type { RawRecord } from './records.js';

/** One NDJSON line as a raw record, or the reason it is not one. */
export function parseNdjsonLine(text: string): RawRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as RawRecord;
}
