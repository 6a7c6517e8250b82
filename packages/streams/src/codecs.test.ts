import { describe, expect, it } from 'vitest';
import * as codecs from './codecs.js';
import { DecodeError } from './errors.js';
import { idFromMs } from './ids.js';
import {
  DEFAULT_DEVICE,
  type DeadLetter,
  type HourlyAverage,
  type Reading,
  ReadingSchema,
} from './schemas.js';

const id = '1735689600000-0';
const ok = ['device', 'probe-1', 'ts', '1735689600123', 'temp_f', '71.5', 'humidity', '40'];

function withField(fields: codecs.FieldList, name: string, value: string | undefined): codecs.FieldList {
  const object = codecs.fieldsToObject(fields);
  if (value === undefined) delete object[name];
  else object[name] = value;
  return codecs.objectToFields(object);
}

function failure(result: ReturnType<typeof codecs.decodeReading>): DecodeError {
  if (result.ok) throw new Error(`expected a decode error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

describe('codecs.decodeReading', () => {
  it('decodes a full reading', () => {
    expect(codecs.decodeReading(id, ok)).toEqual({
      ok: true,
      value: { device: 'probe-1', ts: 1735689600123, temp_f: 71.5, humidity: 40 },
    });
  });

  it('decodes an RU202 entry with only temp_f: the event time comes from the ID, the device is the default', () => {
    expect(codecs.decodeReading('1735689600456-0', ['temp_f', '68'])).toEqual({
      ok: true,
      value: { device: DEFAULT_DEVICE, ts: 1735689600456, temp_f: 68 },
    });
  });

  it('ignores fields it does not know', () => {
    const result = codecs.decodeReading(id, [...ok, 'firmware', '1.2']);
    expect(result.ok && result.value).toEqual({
      device: 'probe-1',
      ts: 1735689600123,
      temp_f: 71.5,
      humidity: 40,
    });
  });

  it.each([
    ['temp_f', undefined, /missing/],
    ['temp_f', '', /not a number/],
    ['temp_f', 'warm', /not a number/],
    ['temp_f', 'NaN', /not a number/],
    ['temp_f', 'Infinity', /not a number/],
    ['temp_f', '-Infinity', /not a number/],
    ['temp_f', '1e400', /not finite/],
    ['temp_f', '0x1F', /not a number/],
    ['temp_f', '71.5F', /not a number/],
    ['temp_f', '-460', /out of range/],
    ['temp_f', '1e308', /out of range/],
    ['device', '', /1-64/],
    ['device', 'probe 1', /1-64/],
    ['device', 'x'.repeat(65), /1-64/],
    ['device', 'probé', /1-64/],
    ['ts', '', /not a number/],
    ['ts', 'yesterday', /not a number/],
    ['ts', '1735689600123.5', /epoch milliseconds/],
    ['ts', '-1', /epoch milliseconds/],
    ['ts', '1e300', /epoch milliseconds/],
    ['ts', 'NaN', /not a number/],
    ['humidity', '', /not a number/],
    ['humidity', 'damp', /not a number/],
    ['humidity', 'NaN', /not a number/],
    ['humidity', '-0.1', /out of range/],
    ['humidity', '100.1', /out of range/],
  ])('reports %s = %j as a DecodeError naming the field', (field, value, reason) => {
    const error = failure(codecs.decodeReading(id, withField(ok, field, value)));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error.code).toBe('DECODE_FAILED');
    expect(error.field).toBe(field);
    expect(error.reason).toMatch(reason);
    expect(error.message).toContain(field);
  });

  it('reports a missing ts with an ID that carries no time', () => {
    const error = failure(codecs.decodeReading('not-an-id', ['temp_f', '70']));
    expect(error.field).toBe('ts');
    expect(error.cause).toBeDefined();
  });

  it('round-trips an encoded reading, with and without humidity', () => {
    const readings: Reading[] = [
      { device: 'probe-1', ts: 1735689600123, temp_f: -40.25, humidity: 0 },
      { device: 'a.b:c_d-e', ts: 0, temp_f: 1e-7 },
      { device: 'p', ts: 1735689600123, temp_f: 212, humidity: 100 },
    ];
    for (const reading of readings)
      expect(codecs.decodeReading('1-0', codecs.encodeReading(reading))).toEqual({
        ok: true,
        value: reading,
      });
  });
});

describe('codecs.decodeReading agrees with ReadingSchema', () => {
  // The reference: the RU202 defaults, decimal strings turned into numbers, then the zod contract.
  function viaSchema(entryId: string, fields: codecs.FieldList) {
    const raw = codecs.fieldsToObject(fields);
    const num = (v: string | undefined) =>
      v === undefined ? undefined : v.trim() === '' ? Number.NaN : Number(v);
    const candidate = {
      device: raw.device ?? DEFAULT_DEVICE,
      ts: raw.ts === undefined ? Number(entryId.split('-')[0]) : num(raw.ts),
      temp_f: num(raw.temp_f),
      ...(raw.humidity === undefined ? {} : { humidity: num(raw.humidity) }),
    };
    return ReadingSchema.safeParse(candidate);
  }

  const cases: [string, codecs.FieldList][] = [
    ['full', ok],
    ['ru202', ['temp_f', '68']],
    ['negative temperature', ['temp_f', '-12.5']],
    ['exponent', ['temp_f', '7.15e1', 'ts', '1.7e12']],
    ['padded numbers', ['temp_f', ' 70 ', 'humidity', ' 5']],
    ['no temp', ['device', 'p']],
    ['empty temp', ['temp_f', '']],
    ['word temp', ['temp_f', 'hot']],
    ['NaN temp', ['temp_f', 'NaN']],
    ['Infinity temp', ['temp_f', 'Infinity']],
    ['overflowing temp', ['temp_f', '1e999']],
    ['fractional ts', ['temp_f', '1', 'ts', '1.5']],
    ['ts with leading zeros', ['temp_f', '1', 'ts', '001735689600123']],
    ['ts of zeros and a digit', ['temp_f', '1', 'ts', '000000000000042']],
    ['ts with leading zeros past 15 digits', ['temp_f', '1', 'ts', '000001735689600123']],
    ['ts of 15 digits', ['temp_f', '1', 'ts', '999999999999999']],
    ['ts of 16 digits', ['temp_f', '1', 'ts', '9007199254740991']],
    ['ts past 2^53', ['temp_f', '1', 'ts', '9007199254740993']],
    ['ts 0', ['temp_f', '1', 'ts', '0']],
    ['ts with a sign', ['temp_f', '1', 'ts', '+1735689600123']],
    ['padded ts', ['temp_f', '1', 'ts', ' 1735689600123']],
    ['ts with a letter', ['temp_f', '1', 'ts', '17356896001x3']],
    ['negative ts', ['temp_f', '1', 'ts', '-5']],
    ['empty device', ['temp_f', '1', 'device', '']],
    ['device with space', ['temp_f', '1', 'device', 'a b']],
    ['long device', ['temp_f', '1', 'device', 'd'.repeat(64)]],
    ['too long device', ['temp_f', '1', 'device', 'd'.repeat(65)]],
    ['humidity 0', ['temp_f', '1', 'humidity', '0']],
    ['humidity 100', ['temp_f', '1', 'humidity', '100']],
    ['humidity above', ['temp_f', '1', 'humidity', '100.5']],
    ['humidity below', ['temp_f', '1', 'humidity', '-1']],
    ['humidity word', ['temp_f', '1', 'humidity', 'wet']],
    ['minus zero', ['temp_f', '-0']],
    ['trailing point', ['temp_f', '5.']],
    ['leading point', ['temp_f', '.5', 'humidity', '-.0']],
    ['negative leading point', ['temp_f', '-.5']],
    ['lone point', ['temp_f', '.']],
    ['lone minus', ['temp_f', '-']],
    ['two points', ['temp_f', '1.2.3']],
    ['minus inside', ['temp_f', '1-2']],
    ['double minus', ['temp_f', '--1']],
    ['leading zeros', ['temp_f', '007.50', 'humidity', '040.0']],
    ['15 digits', ['temp_f', '123.456789012345']],
    ['16 digits', ['temp_f', '123.4567890123456']],
  ];

  it.each(cases)('on %s', (_, fields) => {
    const reference = viaSchema(id, fields);
    const decoded = codecs.decodeReading(id, fields);
    expect(decoded.ok).toBe(reference.success);
    if (decoded.ok && reference.success) expect(decoded.value).toEqual(reference.data);
  });

  it('reads plain decimals exactly as Number() does', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 5000; n++) {
      const digits = 1 + Math.floor(random() * 15);
      let text = '';
      for (let d = 0; d < digits; d++) text += Math.floor(random() * 10);
      const point = Math.floor(random() * (digits + 1));
      text = `${random() < 0.3 ? '-' : ''}${text.slice(0, point)}.${text.slice(point)}`;
      const decoded = codecs.decodeReading(id, ['temp_f', '0', 'humidity', text]);
      const expected = Number(text);
      if (expected < 0 || expected > 100) expect(decoded.ok).toBe(false);
      else expect(Object.is(decoded.ok && decoded.value.humidity, expected)).toBe(true);
    }
  });

  it('has cases on both sides of the contract', () => {
    const verdicts = new Set(cases.map(([, fields]) => viaSchema(id, fields).success));
    expect(verdicts).toEqual(new Set([true, false]));
  });
});

describe('averages', () => {
  const hourStart = Date.UTC(2025, 0, 1, 23);
  const full: HourlyAverage = {
    hourStart,
    date: '2025/01/01',
    hour: 23,
    average_temp_f: 70.25,
    num_observations: 3600,
    min_temp_f: 60,
    max_temp_f: 80.5,
    devices: 4,
    average_humidity: 41.5,
  };

  it('writes the RU202 layout: date YYYY/MM/DD, hour, average_temp_f, num_observations', () => {
    const fields = codecs.fieldsToObject(codecs.encodeAverage(full));
    expect(fields).toMatchObject({
      date: '2025/01/01',
      hour: '23',
      average_temp_f: '70.25',
      num_observations: '3600',
    });
  });

  it('round-trips with the hour start taken from the ID', () => {
    expect(codecs.decodeAverage(idFromMs(hourStart), codecs.encodeAverage(full))).toEqual({
      ok: true,
      value: full,
    });
    const minimal: HourlyAverage = {
      hourStart,
      date: '2025/01/01',
      hour: 23,
      average_temp_f: 70,
      num_observations: 1,
    };
    expect(codecs.decodeAverage(idFromMs(hourStart), codecs.encodeAverage(minimal))).toEqual({
      ok: true,
      value: minimal,
    });
  });

  it('decodes an RU202 average entry', () => {
    const fields = ['date', '2019/01/01', 'hour', '0', 'average_temp_f', '48.5', 'num_observations', '60'];
    const result = codecs.decodeAverage('1546300800000-0', fields);
    expect(result.ok && result.value).toEqual({
      hourStart: 1546300800000,
      date: '2019/01/01',
      hour: 0,
      average_temp_f: 48.5,
      num_observations: 60,
    });
  });

  it.each([
    ['hour', '24', 'hour'],
    ['hour', 'noon', 'hour'],
    ['average_temp_f', 'NaN', 'average_temp_f'],
    ['num_observations', '0', 'num_observations'],
    ['num_observations', '1.5', 'num_observations'],
    ['date', '2025-01-01', 'date'],
    ['date', undefined, 'date'],
    ['min_temp_f', 'cold', 'min_temp_f'],
  ])('reports %s = %j as a DecodeError on %s', (name, value, field) => {
    const result = codecs.decodeAverage(
      idFromMs(hourStart),
      withField(codecs.encodeAverage(full), name, value),
    );
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(DecodeError);
      expect(result.error.field).toBe(field);
    }
  });

  it('reports an ID that is not a stream ID', () => {
    const result = codecs.decodeAverage('latest', codecs.encodeAverage(full));
    expect(!result.ok && result.error.field).toBe('id');
  });
});

describe('dead letters and late readings', () => {
  const letter: DeadLetter = {
    stream: 'temps:20250101',
    id: '1735689600000-3',
    group: 'aggregator',
    consumer: 'aggregator-1',
    deliveries: 5,
    idle_ms: 120000,
    reason: 'temp_f: not a number: "warm"',
    fields: { device: 'p', temp_f: 'warm', 'odd key': 'a "quoted" value' },
    dead_at: 1735689720000,
  };

  it('round-trips a dead letter, original fields included', () => {
    expect(codecs.decodeDeadLetter(codecs.encodeDeadLetter(letter))).toEqual({ ok: true, value: letter });
  });

  it('reports original fields that are not JSON', () => {
    const result = codecs.decodeDeadLetter(withField(codecs.encodeDeadLetter(letter), 'fields', '{not json'));
    expect(!result.ok && result.error.field).toBe('fields');
  });

  it.each(['deliveries', 'idle_ms', 'dead_at'])('reports a dead letter without a numeric %s', (name) => {
    const result = codecs.decodeDeadLetter(withField(codecs.encodeDeadLetter(letter), name, 'soon'));
    expect(!result.ok && result.error.field).toBe(name);
    const missing = codecs.decodeDeadLetter(withField(codecs.encodeDeadLetter(letter), name, undefined));
    expect(!missing.ok && missing.error.field).toBe(name);
    const empty = codecs.decodeDeadLetter(withField(codecs.encodeDeadLetter(letter), name, ''));
    expect(!empty.ok && empty.error.field).toBe(name);
    const fractional = codecs.decodeDeadLetter(withField(codecs.encodeDeadLetter(letter), name, '1.5'));
    expect(!fractional.ok && fractional.error.field).toBe(name);
  });

  it('round-trips a late reading', () => {
    const late = {
      stream: 'temps:20250101',
      id: '1-0',
      reason: 'hour 3 already published',
      fields: { temp_f: '70' },
    };
    expect(codecs.decodeLateReading(codecs.encodeLateReading(late))).toEqual({ ok: true, value: late });
    const broken = codecs.decodeLateReading(withField(codecs.encodeLateReading(late), 'fields', '['));
    expect(!broken.ok && broken.error.field).toBe('fields');
  });
});

describe('window averages', () => {
  const start = Date.UTC(2026, 11, 3, 23, 59);
  const average = {
    start,
    size: '1m',
    date: '2026/12/03',
    hour: 23,
    average_temp_f: 61.123456789012344,
    num_observations: 7,
    min_temp_f: 40.5,
    max_temp_f: 79.25,
    devices: 3,
    average_humidity: 45.5,
    stddev_temp_f: 12.345678901234567,
    first_ts: start + 12,
    last_ts: start + 59_999,
  };

  it('writes the RU202 fields first, then the spread, times, start and size, and reads them back', () => {
    const fields = codecs.encodeWindowAverage(average);
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual([
      'date',
      'hour',
      'average_temp_f',
      'num_observations',
      'min_temp_f',
      'max_temp_f',
      'devices',
      'average_humidity',
      'stddev_temp_f',
      'first_ts',
      'last_ts',
      'start',
      'size',
    ]);
    expect(codecs.decodeWindowAverage(`${start}-0`, fields)).toEqual({ ok: true, value: average });
    // An RU202 reader of the same entry sees an hourly average.
    const ru202 = codecs.decodeAverage(`${start}-0`, fields);
    expect(ru202.ok && ru202.value.average_temp_f).toBe(average.average_temp_f);
  });

  it('keeps temps:averages without start and size for 1h', () => {
    const hour = { ...average, size: '1h', start: start - 59 * 60_000 };
    const fields = codecs.encodeWindowAverage(hour);
    expect(fields).not.toContain('start');
    expect(fields).not.toContain('size');
    expect(codecs.decodeWindowAverage(`${hour.start}-0`, fields)).toEqual({ ok: true, value: hour });
  });

  it('refuses a start that is not the ID, and a missing spread', () => {
    const fields = codecs.encodeWindowAverage(average);
    const moved = codecs.decodeWindowAverage(`${start + 60_000}-0`, fields);
    expect(!moved.ok && moved.error.field).toBe('start');
    const withoutSpread = fields.slice(0, fields.indexOf('stddev_temp_f'));
    expect(codecs.decodeWindowAverage(`${start}-0`, withoutSpread).ok).toBe(false);
  });
});

describe('device windows', () => {
  const start = Date.UTC(2026, 11, 3, 23);
  const result = {
    start,
    count: 60,
    mean: 70.12345678901234,
    min: 60.5,
    max: 80,
    stddev: 3.25,
    first_ts: start + 1_000,
    last_ts: start + 3_599_000,
  };

  it('stores first and last as offsets from the start and reads back absolute times', () => {
    const fields = codecs.encodeDeviceWindow(result);
    expect(codecs.fieldsToObject(fields)).toMatchObject({ first_ms: '1000', last_ms: '3599000' });
    expect(fields).not.toContain('average_humidity');
    expect(codecs.decodeDeviceWindow(`${start}-0`, fields)).toEqual({ ok: true, value: result });
    const humid = { ...result, average_humidity: 40.25 };
    expect(codecs.decodeDeviceWindow(`${start}-0`, codecs.encodeDeviceWindow(humid))).toEqual({
      ok: true,
      value: humid,
    });
  });

  it('refuses a field that is not a number', () => {
    const fields = codecs.encodeDeviceWindow(result);
    fields[fields.indexOf('stddev') + 1] = 'NaN';
    const decoded = codecs.decodeDeviceWindow(`${start}-0`, fields);
    expect(!decoded.ok && decoded.error.field).toBe('stddev');
  });
});

describe('a device latest hour (the devices index)', () => {
  const hour = { start: Date.UTC(2027, 0, 1, 13), count: 3600, mean: 51.25, stddev: 1.5, min: 48, max: 55 };

  it('decodes the JSON the index keeps', () => {
    expect(codecs.decodeDeviceLatestHour(JSON.stringify(hour))).toEqual({ ok: true, value: hour });
  });

  it('refuses text that is not JSON, and JSON without a statistic', () => {
    const notJson = codecs.decodeDeviceLatestHour('{start:');
    expect(!notJson.ok && notJson.error.field).toBe('latest');
    const { stddev: _, ...without } = hour;
    const missing = codecs.decodeDeviceLatestHour(JSON.stringify(without));
    expect(!missing.ok && missing.error.field).toBe('stddev');
  });
});
