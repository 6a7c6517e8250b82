import { describe, expect, it } from 'vitest';
import { InvalidIdError } from './errors.js';
import {
  compareIds,
  dateFromId,
  formatId,
  HOUR_MS,
  hourLabel,
  hourWindowOf,
  idFromDate,
  idFromMs,
  msFromId,
  nextId,
  parseId,
} from './ids.js';

describe('stream IDs', () => {
  it('parses <ms>-<seq> and a bare <ms> (sequence 0)', () => {
    expect(parseId('1539008591844-3')).toEqual({ ms: 1539008591844, seq: 3 });
    expect(parseId('1539008591844')).toEqual({ ms: 1539008591844, seq: 0 });
    expect(parseId('0-1')).toEqual({ ms: 0, seq: 1 });
  });

  it.each([
    '',
    '-',
    '+',
    '$',
    '>',
    '*',
    '1-*',
    'abc',
    '1-2-3',
    '-1-0',
    '1.5-0',
    ' 1-0',
    '1-0 ',
    '99999999999999999',
  ])('refuses %j with an InvalidIdError', (raw) => {
    expect(() => parseId(raw)).toThrow(InvalidIdError);
  });

  it('refuses a sequence beyond the safe integer range rather than rounding it', () => {
    expect(() => parseId('1-18446744073709551615')).toThrow(InvalidIdError);
  });

  it('formats what it parses', () => {
    for (const id of ['0-0', '1-0', '1539008591844-0', '1539008591844-12'])
      expect(formatId(parseId(id))).toBe(id);
  });

  it('orders by milliseconds first, then by sequence, as Redis does (not as strings do)', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('10-10', '10-2')).toBeGreaterThan(0);
    expect(compareIds('10-0', '10')).toBe(0);
    expect(compareIds({ ms: 5, seq: 1 }, '5-0')).toBeGreaterThan(0);
    const sorted = ['10-0', '9-5', '10-10', '9-10', '10-2'].sort(compareIds);
    expect(sorted).toEqual(['9-5', '9-10', '10-0', '10-2', '10-10']);
  });

  it('converts between ms, Date and ID, truncating fractions of a millisecond', () => {
    expect(idFromMs(1514764800000)).toBe('1514764800000-0');
    expect(idFromMs(1514764800000.9, 4)).toBe('1514764800000-4');
    expect(msFromId('1514764800000-7')).toBe(1514764800000);
    const date = new Date(Date.UTC(2018, 0, 1));
    expect(idFromDate(date)).toBe('1514764800000-0');
    expect(idFromDate(date, 2)).toBe('1514764800000-2');
    expect(dateFromId('1514764800000-2').toISOString()).toBe('2018-01-01T00:00:00.000Z');
  });

  it('gives the smallest ID strictly after another (an exclusive start)', () => {
    expect(nextId('5-0')).toBe('5-1');
    expect(nextId('5')).toBe('5-1');
    expect(nextId(`5-${Number.MAX_SAFE_INTEGER}`)).toBe('6-0');
    expect(compareIds(nextId('1539008591844-41'), '1539008591844-41')).toBeGreaterThan(0);
  });
});

describe('hour windows', () => {
  const hour10 = Date.UTC(2025, 0, 1, 10);

  it('puts the first and the last millisecond of an hour in the same window', () => {
    expect(hourWindowOf(hour10)).toEqual({ start: hour10, end: hour10 + HOUR_MS });
    expect(hourWindowOf(hour10 + HOUR_MS - 1)).toEqual({ start: hour10, end: hour10 + HOUR_MS });
    expect(hourWindowOf(hour10 + HOUR_MS).start).toBe(hour10 + HOUR_MS);
  });

  it('labels an hour start with its UTC date (YYYY/MM/DD) and hour 0-23', () => {
    expect(hourLabel(hour10)).toEqual({ date: '2025/01/01', hour: 10 });
    expect(hourLabel(Date.UTC(2024, 1, 29, 23))).toEqual({ date: '2024/02/29', hour: 23 });
    expect(hourLabel(Date.UTC(2025, 11, 31, 0))).toEqual({ date: '2025/12/31', hour: 0 });
  });
});
