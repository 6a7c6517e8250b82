import {
  expectAveragesToMatch,
  expectedHours,
  disordered,
  expectWindowsToMatch,
  holdsEntries,
  readingsBetween,
  sharedRedis,
  startDrainer,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, type Reading, Stream, WindowLayout } from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('win');
const { drain } = inProcessAggregators();
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const SIZES = ['1m', '1h', '1d'];
const windows = WindowLayout.parse(SIZES.join(','));
/** The fleet's windows alone, or with every device's (--per-device). */
const MODES = [
  ['', false],
  [' and every device’s (--per-device)', true],
] as const;
const settingsOf = (perDevice: boolean) => ({ windows: windows.withPerDevice(perDevice), perDevice });

describe('--windows 1m,1h,1d with drain', () => {
  it.each(MODES)(
    'publishes every window of every size%s once, exactly, across UTC midnight and out of order',
    async (_, perDevice) => {
      const { keys } = fresh();
      const midnight = today - DAY_MS;
      const readings = disordered(
        readingsBetween(midnight - 90 * 60_000 + 7_000, midnight + 100 * 60_000, 20_000, 3, 31),
        4_000,
        5,
      );
      await writeReadings(redis, keys, readings);
      // An entry that does not decode: dead-lettered, in no window.
      await redis.xadd(
        keys.partitionKeyFor(midnight),
        '*',
        'device',
        'x',
        'ts',
        String(midnight),
        'temp_f',
        'warm',
      );
      const run = await drain(keys, settingsOf(perDevice));
      await expectWindowsToMatch(redis, keys, new WindowTally(SIZES, { perDevice }).addAll(readings));
      // temps:averages is still what RU202 readers and the 1h checks expect.
      await expectAveragesToMatch(redis, keys, expectedHours(readings));
      expect(run.logged('drained')[0]).toMatchObject({ readings: readings.length });
      expect(await new Stream(redis, keys.late).length()).toBe(0);
      expect(await new Stream(redis, keys.deadLetters).length()).toBe(1);
      // Both days' (partial) days were published: the drain closes every window.
      expect((await redis.xrange(keys.averagesFor(windows.sizes[2]!), '-', '+')).map(([id]) => id)).toEqual([
        `${midnight - DAY_MS}-0`,
        `${midnight}-0`,
      ]);
    },
  );

  it.each(MODES)(
    'sends a reading of a published window to the late stream, naming the window, and counts it in no size%s',
    async (_, perDevice) => {
      const { keys } = fresh();
      const from = today - DAY_MS + 5 * HOUR_MS;
      // Up to 06:30: the drain closes minute 06:29, hour 06:00 and the day.
      const readings = readingsBetween(from, from + 90 * 60_000, 30_000, 2, 9);
      await writeReadings(redis, keys, readings);
      await drain(keys, settingsOf(perDevice));
      const stragglers: Reading[] = [
        { device: 'sensor-1', ts: from + 61_000, temp_f: 99 },
        // Its minute (06:45) was never open, but its hour was published: late in every size.
        { device: 'late-2', ts: from + HOUR_MS + 45 * 60_000, temp_f: 12.5 },
      ];
      await writeReadings(redis, keys, stragglers);
      await drain(keys, settingsOf(perDevice));
      // With --per-device, late-2 has no stream of any size, and sensor-1's minute holds its readings only.
      await expectWindowsToMatch(redis, keys, new WindowTally(SIZES, { perDevice }).addAll(readings));
      const late = await redis.xrange(keys.late, '-', '+');
      expect(late.map(([, f]) => f[f.indexOf('reason') + 1])).toEqual([
        `window 1m ${from + 60_000} was already closed`,
        `hour ${from + HOUR_MS} was already closed`,
      ]);
    },
  );

  it('keeps the fleet streams of other sizes at --keep', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 3 * HOUR_MS;
    const readings = readingsBetween(from, from + 3 * HOUR_MS, 60_000, 1, 3);
    await writeReadings(redis, keys, readings);
    await drain(keys, { windows, keep: new Map([['1m', 60 * 60_000]]) });
    // MAXLEN ~ 60 removes whole nodes of 100 entries: between 60 and 160 of the 180 minutes stay.
    const kept = await redis.xlen(keys.averagesFor(windows.sizes[0]!));
    expect(kept).toBeGreaterThanOrEqual(60);
    expect(kept).toBeLessThan(180);
    expect(await redis.xlen(keys.averages)).toBe(3);
  });

  it('counts every reading once after an aggregator is killed with kill -9 in the middle of a run', async () => {
    const { keys, flags } = fresh();
    const from = today - 2 * DAY_MS + 22 * HOUR_MS + 13_000;
    const readings = readingsBetween(from, from + 12 * HOUR_MS, 10_000, 4, 77);
    await writeReadings(redis, keys, readings);
    const partitions = [keys.partitionKeyFor(from), keys.partitionKeyFor(from + 12 * HOUR_MS)];
    let held = false;
    const victim = startDrainer('victim', 20, [...flags, '--windows', '1m,1h,1d']);
    try {
      // Killed while it holds entries it read and did not acknowledge, once it has published windows.
      await waitFor(
        'the victim to hold entries after it published windows',
        async () =>
          (await redis.exists(keys.averagesFor(windows.sizes[0]!))) === 1 &&
          (await holdsEntries(redis, partitions, 'aggregator', 'victim')),
        20_000,
        5,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the victim exited ${victim.child.exitCode}:\n${victim.output()}`);
      });
      victim.child.kill('SIGKILL');
      await victim.exited;
      held = await holdsEntries(redis, partitions, 'aggregator', 'victim');
    } finally {
      victim.kill('SIGKILL');
    }
    const run = await drain(keys, { windows, minIdle: 300, adoptAfter: 0 }, { withinMs: 40_000 });
    await expectWindowsToMatch(redis, keys, new WindowTally(SIZES).addAll(readings));
    expect(await new Stream(redis, keys.late).length()).toBe(0);
    expect(await new Stream(redis, keys.deadLetters).length()).toBe(0);
    // What the victim held when it died was adopted by the drain (and counted once, above).
    if (held) expect(run.logged('drained')[0]!.adopted as number).toBeGreaterThan(0);
  });
});
