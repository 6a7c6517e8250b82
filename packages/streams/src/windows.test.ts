import { describe, expect, it } from 'vitest';
import { InvalidWindowsError } from './errors.js';
import { DAY_MS, HOUR_MS } from './ids.js';
import { LayoutRecord, parseKeep, parseWindowSize, WINDOW_SIZES, WindowLayout, windowOf } from './windows.js';

describe('parseWindowSize', () => {
  it.each([
    ['1m', 60_000],
    ['15m', 900_000],
    ['1h', HOUR_MS],
    ['12h', 12 * HOUR_MS],
    ['1d', DAY_MS],
  ])('%s is %i ms', (text, ms) => {
    expect(parseWindowSize(text)).toEqual({ label: text, ms });
  });

  it('takes only sizes that tile a UTC day in whole minutes', () => {
    for (const label of WINDOW_SIZES) expect(DAY_MS % parseWindowSize(label).ms).toBe(0);
    for (const text of ['7m', '5h', '2d', '30s', '60m', '1H', '', 'm', '1.5h'])
      expect(() => parseWindowSize(text), text).toThrow(InvalidWindowsError);
  });
});

describe('windowOf', () => {
  const minute = parseWindowSize('1m');
  const day = parseWindowSize('1d');

  it('starts a window at floor(ts / size) * size, in UTC', () => {
    const midnight = Date.UTC(2026, 11, 31);
    expect(windowOf(midnight - 1, day)).toEqual({ start: midnight - DAY_MS, end: midnight });
    expect(windowOf(midnight, day)).toEqual({ start: midnight, end: midnight + DAY_MS });
    expect(windowOf(midnight + 59_999, minute)).toEqual({ start: midnight, end: midnight + 60_000 });
    expect(windowOf(midnight + 60_000, minute).start).toBe(midnight + 60_000);
  });
});

describe('WindowLayout', () => {
  it('orders sizes finest first and chains them', () => {
    const layout = WindowLayout.parse('1d, 1m,1h,1m');
    expect(layout.toString()).toBe('1m,1h,1d');
    expect(layout.isDefault).toBe(false);
    expect(layout.finest.label).toBe('1m');
    expect(layout.coarserThan(layout.finest)?.label).toBe('1h');
    expect(layout.coarserThan(parseWindowSize('1d'))).toBeUndefined();
    expect(layout.finerThan(parseWindowSize('1d'))?.label).toBe('1h');
    expect(layout.finerThan(parseWindowSize('1m'))).toBeUndefined();
    expect(layout.equals(WindowLayout.parse('1m,1h,1d'))).toBe(true);
  });

  it('records per-device results as +device, which makes 1h no longer the default', () => {
    const layout = WindowLayout.parse('1d,1m,1h').withPerDevice(true);
    expect(layout.toString()).toBe('1m,1h,1d+device');
    expect(layout.flags).toBe('--windows 1m,1h,1d --per-device');
    expect(WindowLayout.parse('1m,1h,1d+device').equals(layout)).toBe(true);
    expect(layout.equals(WindowLayout.parse('1m,1h,1d'))).toBe(false);
    const hour = WindowLayout.parse('1h+device');
    expect([hour.perDevice, hour.isDefault, hour.sizes.length]).toEqual([true, false, 1]);
    expect(WindowLayout.DEFAULT.flags).toBe('--windows 1h');
  });

  it('is the default for 1h alone', () => {
    expect(WindowLayout.parse('1h').isDefault).toBe(true);
    expect(WindowLayout.DEFAULT.toString()).toBe('1h');
  });

  it.each([
    ['1m,1d', /lack 1h/],
    ['1m,4m,6m,1h', /6m is not a multiple of 4m/],
    ['1h,8h,12h', /12h is not a multiple of 8h/],
    ['1h,,1d', /not a window list/],
    ['1h,1w', /not a window size/],
  ])('refuses %s', (text, message) => {
    expect(() => WindowLayout.parse(text)).toThrow(message);
  });

  it('accepts a size that is a multiple of the finer one only through the chain', () => {
    // 3m divides 1h, and 1m divides 3m: a valid chain.
    expect(WindowLayout.parse('1m,3m,1h').toString()).toBe('1m,3m,1h');
  });
});

describe('parseKeep', () => {
  const layout = WindowLayout.parse('1m,1h,1d');

  it('keeps 720 windows of a size not named, at most 400 days', () => {
    expect(Object.fromEntries(parseKeep('', layout))).toEqual({
      '1m': 12 * HOUR_MS,
      '1h': 30 * DAY_MS,
      '1d': 400 * DAY_MS,
    });
  });

  it('takes m, h and d per size', () => {
    expect(Object.fromEntries(parseKeep('1m=48h, 1d=30d', layout))).toEqual({
      '1m': 48 * HOUR_MS,
      '1h': 30 * DAY_MS,
      '1d': 30 * DAY_MS,
    });
    expect(parseKeep('1m=90m', layout).get('1m')).toBe(90 * 60_000);
  });

  it.each([
    ['5m=1h', /not among the windows/],
    ['1m=12', /not a keep/],
    ['1m', /not a keep/],
    ['1d=12h', /shorter than one window/],
    ['1d=401d', /over 400d/],
    ['1m=12h,1m=24h', /names 1m twice/],
  ])('refuses %s', (text, message) => {
    expect(() => parseKeep(text, layout)).toThrow(message);
  });
});

describe('LayoutRecord', () => {
  it('is 1h for every day when absent', () => {
    const record = new LayoutRecord({});
    expect(record.layoutOf(Date.UTC(2026, 0, 1)).isDefault).toBe(true);
    expect(record.newest.isDefault).toBe(true);
  });

  it('gives each day the entry it falls under, and the newest entry', () => {
    const change = Date.UTC(2026, 11, 4);
    const record = new LayoutRecord({ [change]: '1m,1h,1d', 0: '1h' });
    expect(record.layoutOf(change - DAY_MS).toString()).toBe('1h');
    expect(record.layoutOf(change).toString()).toBe('1m,1h,1d');
    expect(record.layoutOf(change + DAY_MS).toString()).toBe('1m,1h,1d');
    expect(record.newest.toString()).toBe('1m,1h,1d');
  });
});
