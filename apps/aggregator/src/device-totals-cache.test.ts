import { describe, expect, it } from 'vitest';
import { DeviceTotalsCache } from './device-totals-cache.js';

describe('DeviceTotalsCache', () => {
  it('starts a window it never saw empty, and says nothing of one it was told to forget', () => {
    const cache = new DeviceTotalsCache();
    const w = cache.window('a')!;
    expect(w.size).toBe(0);
    w.add('dev-1');
    expect(cache.window('a')).toBe(w);
    cache.forget('a');
    expect(cache.window('a')).toBeUndefined();
  });

  it('drops the oldest windows beyond its window and device bounds, never the one asked for', () => {
    const cache = new DeviceTotalsCache(3, 100);
    for (const key of ['a', 'b', 'c', 'd']) cache.window(key);
    expect(cache.window('a')!.size).toBe(0); // 'a' was dropped for 'd', and comes back empty
    const big = cache.window('e')!;
    for (let i = 0; i < 150; i++) big.add(`dev-${i}`);
    // Over 100 devices: the next new window drops the older ones, 'e' (150 devices) included.
    cache.window('f');
    expect(cache.window('f')!.size).toBe(0);
    expect(cache.window('e')).not.toBe(big);
  });

  it('gives up a window that alone outgrows the device bound', () => {
    const cache = new DeviceTotalsCache(16, 100);
    const w = cache.window('a')!;
    for (let i = 0; i < 101; i++) w.add(`dev-${i}`);
    expect(cache.window('a')).toBeUndefined();
  });

  it('grows a window past its first allocation, keeping every device where it was', () => {
    const w = new DeviceTotalsCache().window('a')!;
    for (let i = 0; i < 200; i++) {
      const at = w.add(`dev-${i}`); // first: adding may replace `values`
      w.values[at] = i;
    }
    for (let i = 0; i < 200; i++) expect(w.values[w.at(`dev-${i}`)!]).toBe(i);
  });
});
