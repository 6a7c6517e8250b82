import { describe, expect, it } from 'vitest';
import { parseTimeBound } from './time-bound.js';

describe('parseTimeBound', () => {
  it('takes epoch milliseconds as they are', () => {
    expect(parseTimeBound('1798808400000')).toBe(1798808400000);
    expect(parseTimeBound('0')).toBe(0);
  });

  it('reads an ISO time without a zone as UTC whatever TZ says', () => {
    expect(parseTimeBound('2027-01-01T13:00')).toBe(Date.UTC(2027, 0, 1, 13));
    expect(parseTimeBound('2027-01-01T13:00:05.250')).toBe(Date.UTC(2027, 0, 1, 13, 0, 5, 250));
    expect(parseTimeBound('2027-01-01')).toBe(Date.UTC(2027, 0, 1));
  });

  it('honours an explicit zone', () => {
    expect(parseTimeBound('2027-01-01T13:00:00Z')).toBe(Date.UTC(2027, 0, 1, 13));
    expect(parseTimeBound('2027-01-01T15:00:00+02:00')).toBe(Date.UTC(2027, 0, 1, 13));
  });

  it('refuses text that is not a time, and days that do not exist', () => {
    for (const text of ['', 'yesterday', '2027-13-01', '2027-02-30', '12.5', '-5', '2027-01-01T25:00']) {
      expect(parseTimeBound(text), text).toBeUndefined();
    }
  });

  it('refuses times a stream ID cannot hold: before the epoch, past the last Date', () => {
    for (const text of ['1969-12-31', '1970-01-01T00:30+01:00', '0000-01-01', '9999999999999999']) {
      expect(parseTimeBound(text), text).toBeUndefined();
    }
    expect(parseTimeBound('1970-01-01')).toBe(0);
    expect(parseTimeBound('8640000000000000')).toBe(8_640_000_000_000_000);
  });
});
