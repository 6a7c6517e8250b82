import type { RawRecord } from '../ingest/records.js';

/**
 * The device a topic names under one of the filters: the level the filter's first `+` matches, or
 * null when the matching filter has no `+` (the payload then names it). Undefined: no filter matches.
 */
export function deviceOfTopic(filters: readonly string[], topic: string): string | null | undefined {
  const levels = topic.split('/');
  for (const filter of filters) {
    const parts = filter.split('/');
    let device: string | null = null;
    let matches = true;
    for (const [i, part] of parts.entries()) {
      if (part === '#') break;
      if (i >= levels.length || (part !== '+' && part !== levels[i])) {
        matches = false;
        break;
      }
      if (part === '+' && device === null) device = levels[i]!;
    }
    if (matches && (parts.at(-1) === '#' || parts.length === levels.length)) return device;
  }
  return undefined;
}

/** A message's records (each a raw record or why it is not one), or why the whole message is refused. */
export type ParsedMessage = { ok: true; records: (RawRecord | string)[] } | { ok: false; reason: string };

/**
 * Reads an MQTT message: a JSON object `{"ts","temp_f","humidity"?}` or an array of them, the device
 * from the topic (a `device` in the payload must then agree) or else from the payload.
 */
export function parseReadingsMessage(
  filters: readonly string[],
  topic: string,
  payload: Buffer,
  maxPayloadBytes: number,
): ParsedMessage {
  const device = deviceOfTopic(filters, topic);
  if (device === undefined)
    return { ok: false, reason: `topic ${topic} matches none of ${filters.join(', ')}` };
  if (device === '') return { ok: false, reason: `topic ${topic} has an empty device level` };
  if (payload.length > maxPayloadBytes) {
    return {
      ok: false,
      reason: `payload of ${payload.length} bytes is over --max-payload (${maxPayloadBytes})`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const values = Array.isArray(value) ? value : [value];
  return { ok: true, records: values.map((v) => recordOf(v, device)) };
}

function recordOf(value: unknown, device: string | null): RawRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as RawRecord;
  if (device === null) return record;
  if (record.device !== undefined && record.device !== device)
    return `device: ${JSON.stringify(record.device)} differs from the topic's ${device}`;
  return { ...record, device };
}
