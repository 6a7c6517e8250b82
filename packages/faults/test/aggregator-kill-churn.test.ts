import {
  drainUnderKillChurn,
  expectAveragesToMatch,
  expectedHours,
  prng,
  readingsBetween,
  sharedRedis,
  startDrainer,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, Stream } from '@pipe/streams';
import { expect, it } from 'vitest';

const { redis, fresh } = sharedRedis('agg');

it('counts every reading exactly once with 3 instances killed with kill -9 mid-batch and restarted, again and again', async () => {
  const { keys, flags } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - 3 * DAY_MS + 3 * HOUR_MS + 600_000;
  const readings = readingsBetween(from, from + 2.5 * DAY_MS, 10_000, 4, 42);
  await writeReadings(redis, keys, readings);

  const { finished, kills, killsHoldingEntries } = await drainUnderKillChurn({
    redis,
    partitions: keys.partitionKeysBetween(from, from + 2.5 * DAY_MS),
    names: ['agg-a', 'agg-b', 'agg-c'],
    start: (name) => startDrainer(name, 150, flags),
    random: prng(2026),
    maxKills: 30,
    timeoutMs: 150_000,
  });
  expect(finished, 'every instance drained and exited 0').toBe(3);
  expect(kills).toBeGreaterThanOrEqual(8);
  // The kills must hit instances in the middle of a batch, or the test proves nothing.
  expect(killsHoldingEntries).toBeGreaterThanOrEqual(5);

  const expected = expectedHours(readings);
  await expectAveragesToMatch(redis, keys, expected);
  expect(expected.reduce((s, h) => s + h.n, 0)).toBe(readings.length);
  expect(await new Stream(redis, keys.deadLetters).length()).toBe(0);
  expect(await new Stream(redis, keys.late).length()).toBe(0);
}, 180_000);
