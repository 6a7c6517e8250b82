import { DecodeError } from './errors.js';
import { hourLabel, parseId } from './ids.js';
import type {
  DeadLetter,
  DeviceLatestHour,
  DeviceWindow,
  HourlyAverage,
  LateReading,
  Reading,
  WindowAverage,
} from './schemas.js';
import {
  DEFAULT_DEVICE,
  DEVICE_PATTERN,
  DeadLetterSchema,
  DeviceLatestHourSchema,
  DeviceWindowSchema,
  HourlyAverageSchema,
  LateReadingSchema,
  TEMP_F_MAX,
  TEMP_F_MIN,
  WindowAverageSchema,
} from './schemas.js';

/** Field/value pairs as Redis returns them: `[f1, v1, f2, v2, ...]`. */
export type FieldList = string[];
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

export function fieldsToObject(fields: FieldList): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

export function objectToFields(object: Record<string, string | number>): FieldList {
  const out: FieldList = [];
  for (const [k, v] of Object.entries(object)) out.push(k, String(v));
  return out;
}

// Readings are the hot path (a million per second across the pipeline), so they are encoded and decoded
// by hand; ReadingSchema is the contract and codecs.test.ts checks that both agree.

export function encodeReading(reading: Reading): FieldList {
  const fields = ['device', reading.device, 'ts', String(reading.ts), 'temp_f', String(reading.temp_f)];
  if (reading.humidity !== undefined) fields.push('humidity', String(reading.humidity));
  return fields;
}

const NUMBER_PATTERN = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

function parseNumber(raw: string | undefined, field: string): number | DecodeError {
  if (raw === undefined) return new DecodeError('missing', field);
  if (!NUMBER_PATTERN.test(raw))
    return new DecodeError(`not a number: ${JSON.stringify(raw.slice(0, 40))}`, field);
  const n = Number(raw);
  return Number.isFinite(n) ? n : new DecodeError(`not finite: ${raw.slice(0, 40)}`, field);
}

/**
 * A decimal as sensors and the producer write one (`-12.5`, `57.33`, epoch ms): an optional minus,
 * digits, an optional fraction, 15 digits at most. Read digit by digit and divided by a power of ten, which is exact: both are exact
 * doubles (under 2^53 and 10^22), and IEEE division rounds correctly, as Number() does. Anything else
 * takes the general path; the regular expression and Number() cost more than the rest of a decode.
 */
function plainDecimal(raw: string): number | undefined {
  const length = raw.length;
  let i = raw.charCodeAt(0) === 45 ? 1 : 0; // '-'
  let mantissa = 0;
  let digits = 0;
  let scale = 1;
  let point = false;
  for (; i < length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 46 && !point) {
      point = true;
      continue;
    }
    const digit = code - 48;
    if (digit < 0 || digit > 9 || ++digits > 15) return undefined;
    mantissa = mantissa * 10 + digit;
    if (point) scale *= 10;
  }
  if (digits === 0) return undefined;
  const value = mantissa / scale;
  return raw.charCodeAt(0) === 45 ? -value : value;
}

/** A field's number: a plain decimal read by hand, anything else by the general path. */
function numberOf(raw: string | undefined, field: string): number | DecodeError {
  return (raw === undefined ? undefined : plainDecimal(raw)) ?? parseNumber(raw, field);
}

/**
 * Decodes a reading entry. RU202 compatibility: without `ts` the event time is the ID's ms; without
 * `device` the reading belongs to DEFAULT_DEVICE.
 */
export function decodeReading(id: string, fields: FieldList): Decoded<Reading> {
  let device: string | undefined;
  let tsRaw: string | undefined;
  let tempRaw: string | undefined;
  let humidityRaw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    switch (fields[i]) {
      case 'device':
        device = value;
        break;
      case 'ts':
        tsRaw = value;
        break;
      case 'temp_f':
        tempRaw = value;
        break;
      case 'humidity':
        humidityRaw = value;
        break;
    }
  }
  if (device !== undefined && !DEVICE_PATTERN.test(device)) {
    return fail('must be 1-64 of A-Z a-z 0-9 _ . : -', 'device');
  }
  let ts: number;
  if (tsRaw === undefined) {
    try {
      ts = parseId(id).ms;
    } catch (cause) {
      return fail(`no ts field and the ID ${id} carries no time`, 'ts', cause);
    }
  } else {
    const parsed = numberOf(tsRaw, 'ts');
    if (parsed instanceof DecodeError) return { ok: false, error: parsed };
    if (!Number.isSafeInteger(parsed) || parsed < 0) return fail(`not epoch milliseconds: ${tsRaw}`, 'ts');
    ts = parsed;
  }
  const temp = numberOf(tempRaw, 'temp_f');
  if (temp instanceof DecodeError) return { ok: false, error: temp };
  if (temp < TEMP_F_MIN || temp > TEMP_F_MAX)
    return fail(`out of range ${TEMP_F_MIN} to ${TEMP_F_MAX} °F: ${tempRaw}`, 'temp_f');
  const value: Reading = { device: device ?? DEFAULT_DEVICE, ts, temp_f: temp };
  if (humidityRaw !== undefined) {
    const humidity = numberOf(humidityRaw, 'humidity');
    if (humidity instanceof DecodeError) return { ok: false, error: humidity };
    if (humidity < 0 || humidity > 100) return fail(`out of range 0-100: ${humidityRaw}`, 'humidity');
    value.humidity = humidity;
  }
  return { ok: true, value };
}

function fail(reason: string, field: string, cause?: unknown): { ok: false; error: DecodeError } {
  return { ok: false, error: new DecodeError(reason, field, { cause }) };
}

export function encodeAverage(average: HourlyAverage): FieldList {
  const { date, hour } = hourLabel(average.hourStart);
  const fields = [
    'date',
    date,
    'hour',
    String(hour),
    'average_temp_f',
    String(average.average_temp_f),
    'num_observations',
    String(average.num_observations),
  ];
  if (average.min_temp_f !== undefined) fields.push('min_temp_f', String(average.min_temp_f));
  if (average.max_temp_f !== undefined) fields.push('max_temp_f', String(average.max_temp_f));
  if (average.devices !== undefined) fields.push('devices', String(average.devices));
  if (average.average_humidity !== undefined)
    fields.push('average_humidity', String(average.average_humidity));
  return fields;
}

const NUMERIC_AVERAGE_FIELDS = [
  'hour',
  'average_temp_f',
  'num_observations',
  'min_temp_f',
  'max_temp_f',
  'devices',
  'average_humidity',
] as const;

/** Decodes an hourly average entry; the hour start comes from the entry ID (`<hour ms>-0`). */
export function decodeAverage(id: string, fields: FieldList): Decoded<HourlyAverage> {
  const raw = fieldsToObject(fields);
  const candidate: Record<string, unknown> = { date: raw.date };
  try {
    candidate.hourStart = parseId(id).ms;
  } catch (cause) {
    return fail(`not a stream ID: ${id}`, 'id', cause);
  }
  for (const name of NUMERIC_AVERAGE_FIELDS) {
    if (raw[name] === undefined) continue;
    const n = parseNumber(raw[name], name);
    if (n instanceof DecodeError) return { ok: false, error: n };
    candidate[name] = n;
  }
  return fromZod(HourlyAverageSchema.safeParse(candidate));
}

/**
 * A fleet window's result: the RU202 fields (as encodeAverage), then `stddev_temp_f`, `first_ts`,
 * `last_ts`, and for sizes other than `1h` `start` and `size` (`temps:averages` keeps its ID as the
 * only start, as today). Always in this order, so a stream node stores the field names once.
 */
export function encodeWindowAverage(average: WindowAverage): FieldList {
  const fields = encodeAverage({ ...average, hourStart: average.start });
  fields.push(
    'stddev_temp_f',
    String(average.stddev_temp_f),
    'first_ts',
    String(average.first_ts),
    'last_ts',
    String(average.last_ts),
  );
  if (average.size !== '1h') fields.push('start', String(average.start), 'size', average.size);
  return fields;
}

const NUMERIC_WINDOW_FIELDS = [...NUMERIC_AVERAGE_FIELDS, 'stddev_temp_f', 'first_ts', 'last_ts'] as const;

/**
 * Decodes a fleet window's result; the start comes from the entry ID, the size from `size` (absent in
 * `temps:averages`: `1h`).
 */
export function decodeWindowAverage(id: string, fields: FieldList): Decoded<WindowAverage> {
  const raw = fieldsToObject(fields);
  const candidate: Record<string, unknown> = { date: raw.date, size: raw.size ?? '1h' };
  try {
    candidate.start = parseId(id).ms;
  } catch (cause) {
    return fail(`not a stream ID: ${id}`, 'id', cause);
  }
  for (const name of NUMERIC_WINDOW_FIELDS) {
    if (raw[name] === undefined) continue;
    const n = parseNumber(raw[name], name);
    if (n instanceof DecodeError) return { ok: false, error: n };
    candidate[name] = n;
  }
  if (raw.start !== undefined && Number(raw.start) !== candidate.start)
    return fail(`${raw.start} is not the entry's ID ${id}`, 'start');
  return fromZod(WindowAverageSchema.safeParse(candidate));
}

/**
 * A device's window result: `count`, `mean`, `min`, `max`, `stddev`, `first_ms`, `last_ms` (ms after
 * the window start: shorter than absolute times), `average_humidity` when the device sent humidity.
 */
export function encodeDeviceWindow(w: DeviceWindow): FieldList {
  const fields = [
    'count',
    String(w.count),
    'mean',
    String(w.mean),
    'min',
    String(w.min),
    'max',
    String(w.max),
    'stddev',
    String(w.stddev),
    'first_ms',
    String(w.first_ts - w.start),
    'last_ms',
    String(w.last_ts - w.start),
  ];
  if (w.average_humidity !== undefined) fields.push('average_humidity', String(w.average_humidity));
  return fields;
}

/** Decodes a device's window result; the start comes from the entry ID. */
export function decodeDeviceWindow(id: string, fields: FieldList): Decoded<DeviceWindow> {
  const raw = fieldsToObject(fields);
  let start: number;
  try {
    start = parseId(id).ms;
  } catch (cause) {
    return fail(`not a stream ID: ${id}`, 'id', cause);
  }
  const candidate: Record<string, unknown> = { start };
  for (const name of ['count', 'mean', 'min', 'max', 'stddev', 'first_ms', 'last_ms'] as const) {
    const n = parseNumber(raw[name], name);
    if (n instanceof DecodeError) return { ok: false, error: n };
    candidate[name] = n;
  }
  candidate.first_ts = start + (candidate.first_ms as number);
  candidate.last_ts = start + (candidate.last_ms as number);
  if (raw.average_humidity !== undefined) {
    const n = parseNumber(raw.average_humidity, 'average_humidity');
    if (n instanceof DecodeError) return { ok: false, error: n };
    candidate.average_humidity = n;
  }
  return fromZod(DeviceWindowSchema.safeParse(candidate));
}

/** Decodes a device's latest hour as the devices index holds it (JSON, see index-devices-2.lua). */
export function decodeDeviceLatestHour(json: string): Decoded<DeviceLatestHour> {
  let candidate: unknown;
  try {
    candidate = JSON.parse(json);
  } catch (cause) {
    return fail('not JSON', 'latest', cause);
  }
  return fromZod(DeviceLatestHourSchema.safeParse(candidate));
}

export function encodeDeadLetter(letter: DeadLetter): FieldList {
  return objectToFields({ ...letter, fields: JSON.stringify(letter.fields) });
}

export function decodeDeadLetter(fields: FieldList): Decoded<DeadLetter> {
  const raw = fieldsToObject(fields);
  let original: unknown;
  try {
    original = JSON.parse(raw.fields ?? 'null');
  } catch (cause) {
    return fail('not JSON', 'fields', cause);
  }
  const numbers: Record<string, number> = {};
  for (const name of ['deliveries', 'idle_ms', 'dead_at'] as const) {
    // parseNumber, not Number(): Number('') is 0, which would pass for a real count.
    const n = parseNumber(raw[name], name);
    if (n instanceof DecodeError) return { ok: false, error: n };
    numbers[name] = n;
  }
  return fromZod(DeadLetterSchema.safeParse({ ...raw, fields: original, ...numbers }));
}

export function encodeLateReading(late: LateReading): FieldList {
  return objectToFields({ ...late, fields: JSON.stringify(late.fields) });
}

export function decodeLateReading(fields: FieldList): Decoded<LateReading> {
  const raw = fieldsToObject(fields);
  try {
    return fromZod(LateReadingSchema.safeParse({ ...raw, fields: JSON.parse(raw.fields ?? 'null') }));
  } catch (cause) {
    return fail('not JSON', 'fields', cause);
  }
}

function fromZod<T>(
  result:
    | { success: true; data: T }
    | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
): Decoded<T> {
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return fail(issue?.message ?? 'invalid', String(issue?.path.join('.') || 'entry'));
}
