import { describe, expect, it } from 'vitest';
import { parseTimestamp, toReading } from './records.js';

// The grammar, zones and ranges are parseTime's (@pipe/service, time-text.test.ts); here, the producer's rule.
describe('parseTimestamp', () => {
  it('reads epoch milliseconds as a number or as digits, and ISO-8601 with a zone', () => {
    expect(parseTimestamp(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(parseTimestamp('1700000000123')).toBe(1_700_000_000_123);
    expect(parseTimestamp('2026-01-02T09:00:00+09:00')).toBe(Date.UTC(2026, 0, 2, 0));
  });

  it('refuses a time without a zone, fractional epochs and values of other types', () => {
    expect(parseTimestamp('2026-01-01T00:00:00')).toMatch(/without a zone/);
    expect(parseTimestamp('2026-01-01')).toMatch(/without a time and zone/);
    expect(parseTimestamp(1.5)).toMatch(/not epoch milliseconds/);
    expect(parseTimestamp(-1)).toMatch(/not epoch milliseconds/);
    expect(parseTimestamp(true)).toMatch(/not a boolean/);
  });
});

describe('toReading', () => {
  const ts = Date.UTC(2026, 0, 1);

  it('turns a complete record into a reading, numbers given as text or numbers', () => {
    expect(toReading({ device: 'sensor-001', ts, temp_f: '71.5', humidity: 40 })).toEqual({
      ok: true,
      reading: { device: 'sensor-001', ts, temp_f: 71.5, humidity: 40 },
    });
    expect(toReading({ device: 'd', ts, temp_f: 60, humidity: '' })).toEqual({
      ok: true,
      reading: { device: 'd', ts, temp_f: 60 },
    });
  });

  it('names the missing field', () => {
    expect(toReading({ ts, temp_f: 1 })).toEqual({ ok: false, reason: 'device: missing' });
    expect(toReading({ device: 'd', temp_f: 1 })).toEqual({ ok: false, reason: 'ts: missing' });
    expect(toReading({ device: 'd', ts, temp_f: '' })).toEqual({ ok: false, reason: 'temp_f: missing' });
  });

  it('refuses non-numeric, non-finite and out-of-range values and bad device names', () => {
    expect(toReading({ device: 'd', ts, temp_f: 'warm' })).toMatchObject({
      ok: false,
      reason: /^temp_f: not a number/,
    });
    expect(toReading({ device: 'd', ts, temp_f: '1e999' })).toMatchObject({
      ok: false,
      reason: /^temp_f: not finite/,
    });
    expect(toReading({ device: 'd', ts, temp_f: [1] })).toMatchObject({
      ok: false,
      reason: /^temp_f: must be a number/,
    });
    expect(toReading({ device: 'd', ts, temp_f: 1, humidity: 140 })).toMatchObject({
      ok: false,
      reason: /^humidity:/,
    });
    expect(toReading({ device: 'no spaces', ts, temp_f: 1 })).toMatchObject({
      ok: false,
      reason: /^device:/,
    });
    expect(toReading({ device: 7, ts, temp_f: 1 })).toMatchObject({
      ok: false,
      reason: /^device: must be a string/,
    });
  });
});
