import {
  expectWindowsToMatch,
  readingsBetween,
  sharedRedis,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, WindowLayout } from '@pipe/streams';
import { clearOfTurn, waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { WindowsMismatchError } from '../src/windows-layout.js';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('win');
const { start, drain } = inProcessAggregators();
const windows = WindowLayout.parse('1m,1h,1d');
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;

describe('the window layout record', () => {
  it('is not written by the default, and records the first start’s layout for every day', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 2 * HOUR_MS;
    await writeReadings(redis, keys, readingsBetween(from, from + HOUR_MS, 60_000, 1, 1));
    await drain(keys);
    expect(await redis.exists(keys.windowsLayout)).toBe(0);

    const { keys: other } = fresh();
    await writeReadings(redis, other, readingsBetween(from, from + HOUR_MS, 60_000, 1, 1));
    await drain(other, { windows });
    expect(await redis.hgetall(other.windowsLayout)).toEqual({ 0: '1m,1h,1d' });
  });

  it('refuses another layout, naming both and the fix, without counting anything', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 2 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 2);
    await writeReadings(redis, keys, readings);
    await drain(keys, { windows });
    await writeReadings(redis, keys, readingsBetween(from + HOUR_MS, from + 2 * HOUR_MS, 60_000, 2, 3));
    // Per-device results are part of the layout: the same sizes with --per-device are another layout.
    for (const other of [undefined, WindowLayout.parse('5m,1h'), windows.withPerDevice(true)]) {
      const flags = other?.flags ?? '--windows 1h';
      const run = start(keys, {
        drain: true,
        ...(other ? { windows: other, perDevice: other.perDevice } : {}),
      });
      const err = await run.ended.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WindowsMismatchError);
      expect((err as Error).message).toBe(
        `${keys.averages} is counted with --windows 1m,1h,1d, not ${flags}: run with --windows 1m,1h,1d, ` +
          `or stop the aggregators of --windows 1m,1h,1d and start once with --change-windows to count with ${flags} from the next UTC midnight`,
      );
    }
    // The refused runs read nothing: the second hour is still unread.
    await expectWindowsToMatch(redis, keys, new WindowTally(['1m', '1h', '1d']).addAll(readings));
  });

  it('--change-windows counts with the new layout from the next UTC midnight, and stops the instances of the old one', async () => {
    // The change takes effect at the midnight after it is made: not one the test could cross meanwhile.
    await clearOfTurn(DAY_MS, 30_000);
    const nextMidnight = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
    const { keys } = fresh();
    const from = today - DAY_MS + 2 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 4);
    await writeReadings(redis, keys, readings);
    const old = start(keys, { windows, blockMs: 200 });
    await waitFor(
      'the old layout’s instance to count',
      async () => (await redis.exists(keys.averagesFor(windows.sizes[0]!))) || undefined,
    );
    const changed = WindowLayout.parse('1m,15m,1h');
    const run = await drain(keys, { windows: changed, changeWindows: true });
    expect(run.logged('changed the window layout from the next UTC midnight')).toHaveLength(1);
    expect(await redis.hgetall(keys.windowsLayout)).toEqual({ 0: '1m,1h,1d', [nextMidnight]: '1m,15m,1h' });
    // The old instance finds it at its next discovery and stops with the mismatch.
    const err = await old.ended.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WindowsMismatchError);
    // Yesterday stays counted with the layout of its day.
    await expectWindowsToMatch(redis, keys, new WindowTally(['1m', '1h', '1d']).addAll(readings));
  });
});
