import {
  drainUnderKillChurn,
  expectWindowsToMatch,
  prng,
  readingsBetween,
  sharedRedis,
  startDrainer,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, Stream } from '@pipe/streams';
import { expect, it } from 'vitest';

const { redis, fresh } = sharedRedis('aggwin');
const SIZES = ['1m', '1h', '1d'];

it('publishes every fleet and device window of 1m, 1h and 1d exactly once with 3 instances killed with kill -9 at random', async () => {
  const { keys, flags } = fresh();
  // 20 hours across a UTC midnight: 1,200 minutes, each closed with its devices' results.
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS + 14 * HOUR_MS + 7_000;
  const to = from + 20 * HOUR_MS;
  const readings = readingsBetween(from, to, 10_000, 4, 16);
  await writeReadings(redis, keys, readings);

  const { finished, kills, killsHoldingEntries } = await drainUnderKillChurn({
    redis,
    partitions: keys.partitionKeysBetween(from, to),
    names: ['agg-a', 'agg-b', 'agg-c'],
    start: (name) =>
      startDrainer(name, 100, [...flags, '--windows', SIZES.join(','), '--per-device', '--keep', '1m=1d']),
    random: prng(1616),
    maxKills: 20,
    timeoutMs: 90_000,
  });
  expect(finished, 'every instance drained and exited 0').toBe(3);
  expect(kills).toBeGreaterThanOrEqual(6);
  // The kills must hit instances in the middle of a batch, or the test proves nothing.
  expect(killsHoldingEntries).toBeGreaterThanOrEqual(3);

  await expectWindowsToMatch(redis, keys, new WindowTally(SIZES, { perDevice: true }).addAll(readings));
  expect(await new Stream(redis, keys.deadLetters).length()).toBe(0);
  expect(await new Stream(redis, keys.late).length()).toBe(0);
}, 120_000);
