import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, LATEST_TIME_MS, parseTime, type WithoutZone } from './time-text.js';

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [12_000, '12s'],
    [12_345, '12.3s'],
    [60_000, '1m'],
    [61_000, '1m01s'],
    [245_000, '4m05s'],
    [3_600_000, '1h'],
    [7_800_000, '2h10m'],
    [86_400_000, '1d'],
    [36 * 3_600_000, '1d12h'],
    [2 * 86_400_000, '2d'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d04h'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

const both: WithoutZone[] = ['utc', 'refuse'];
const ms = (text: string, withoutZone: WithoutZone = 'utc') => {
  const parsed = parseTime(text, { withoutZone });
  return parsed.ok ? parsed.ms : parsed.reason;
};

describe('parseTime', () => {
  // The zone rule must not lean on local time: run under a zone far from UTC.
  let savedTz: string | undefined;
  beforeAll(() => {
    savedTz = process.env.TZ;
    process.env.TZ = 'Pacific/Kiritimati';
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it.each(both)('takes epoch milliseconds as they are (without a zone: %s)', (rule) => {
    expect(ms('1798808400000', rule)).toBe(1_798_808_400_000);
    expect(ms(' 0 ', rule)).toBe(0);
    expect(ms(String(LATEST_TIME_MS), rule)).toBe(LATEST_TIME_MS);
  });

  it.each(both)('honours a zone: Z, ±hh, ±hhmm, ±hh:mm (without a zone: %s)', (rule) => {
    expect(ms('2026-01-01T23:59:59.999Z', rule)).toBe(Date.UTC(2026, 0, 1, 23, 59, 59, 999));
    expect(ms('2026-01-02T09:00:00+09:00', rule)).toBe(Date.UTC(2026, 0, 2));
    expect(ms('2026-01-01T16:00:00-0800', rule)).toBe(Date.UTC(2026, 0, 2));
    expect(ms('2026-01-01T21:00-03', rule)).toBe(Date.UTC(2026, 0, 2));
    expect(ms('2026-01-01 00:00z', rule)).toBe(Date.UTC(2026, 0, 1));
    expect(ms('2026-01-01T00:00:00,5Z', rule)).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 500));
    expect(ms('2026-01-01T00:00:00.123456Z', rule)).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 123));
  });

  it('reads a time or a date without a zone as UTC when told to, whatever TZ says', () => {
    expect(new Date(Date.UTC(2027, 0, 1, 13)).getHours()).not.toBe(13);
    expect(ms('2027-01-01T13:00')).toBe(Date.UTC(2027, 0, 1, 13));
    expect(ms('2027-01-01T13:00:05.250')).toBe(Date.UTC(2027, 0, 1, 13, 0, 5, 250));
    expect(ms('2027-01-01')).toBe(Date.UTC(2027, 0, 1));
  });

  it('refuses a time or a date without a zone when told to, saying what to add', () => {
    expect(ms('2026-01-01T00:00:00', 'refuse')).toBe(
      'ISO-8601 time without a zone (add Z or ±hh:mm): "2026-01-01T00:00:00"',
    );
    expect(ms('2026-01-01', 'refuse')).toMatch(
      /^ISO-8601 date without a time and zone \(e.g. 2026-01-01T00:00Z\)/,
    );
  });

  it.each(both)(
    'refuses text that is not a time, and dates that do not exist (without a zone: %s)',
    (rule) => {
      for (const text of ['', 'yesterday', '12.5', '-5', '2027-01-01T13', `${'x'.repeat(50)}`]) {
        expect(ms(text, rule), text).toMatch(/^not epoch milliseconds or ISO-8601: /);
      }
      for (const text of [
        '2027-13-01T00:00Z',
        '2027-02-30T00:00Z',
        '2027-02-30T00:00+02:00',
        '2027-01-01T25:00Z',
        '2027-01-01T24:00Z',
        '2027-01-01T12:60Z',
        '2027-01-01T12:00:60Z',
        '2027-01-01T12:00+24:00',
      ]) {
        expect(ms(text, rule), text).toMatch(/^not a real date and time: /);
      }
      expect(ms('2028-02-29T00:00Z', rule)).toBe(Date.UTC(2028, 1, 29));
    },
  );

  it.each(both)(
    'refuses times a stream ID cannot hold: before the epoch, past the last Date (%s)',
    (rule) => {
      for (const text of [
        '1969-12-31T00:00Z',
        '1970-01-01T00:30+01:00',
        '0000-01-01T00:00Z',
        '0075-01-01T00:00Z',
      ]) {
        expect(ms(text, rule), text).toMatch(/^before 1970-01-01/);
      }
      expect(ms('1969-12-31T23:30-01:00', rule)).toBe(30 * 60_000);
      expect(ms('9999999999999999', rule)).toMatch(/^after the last time a date can hold/);
      expect(ms('99999999999999999999999', rule)).toMatch(/^after the last time a date can hold/);
    },
  );

  it('quotes at most 40 characters of the text it refuses', () => {
    expect(ms(`2027${'-'.repeat(60)}`)).toBe(`not epoch milliseconds or ISO-8601: "2027${'-'.repeat(36)}…"`);
  });
});
