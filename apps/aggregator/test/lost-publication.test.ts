import {
  expectAveragesToMatch,
  expectedHours,
  readingsBetween,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, Stream } from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { defineAggregatorScripts } from '../src/scripts.js';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { start, drain } = inProcessAggregators();

// Without --wait-replicas a failover can promote a replica that lacks the averages stream's last
// entries while the partitions (other masters) have settled those hours. Here the replica's state is
// made by hand: the stream as it was before the last three publications, and their sources gone.
it('publishes again, exactly, the hours whose publication Redis lost after the partitions settled them', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS + 6 * HOUR_MS;
  const readings = readingsBetween(from, from + 5 * HOUR_MS, 30_000, 4, 11);
  await writeReadings(redis, keys, readings);
  await drain(keys);
  const expected = expectedHours(readings);
  await expectAveragesToMatch(redis, keys, expected);

  const kept = (await redis.xrange(keys.averages, '-', '+')).slice(0, 2);
  const lost = (await redis.xrange(keys.averages, '-', '+')).slice(2).map(([id]) => id.split('-')[0]);
  expect(lost).toHaveLength(3);
  await redis.del(keys.averages, ...lost.map((hour) => `{${keys.averages}}:sources:${hour}`));
  for (const [id, fields] of kept) await redis.xadd(keys.averages, id, ...fields);

  const second = await drain(keys);
  await expectAveragesToMatch(redis, keys, expected);
  const repaired = second.logs.filter((line) => line.msg.startsWith('published an hour again'));
  expect(repaired.map((line) => String(line.hourStart))).toEqual(lost);
  expect(repaired.every((line) => line.level === 50)).toBe(true);
  expect(await new Stream(redis, keys.late).length()).toBe(0);
});

// The race the hour closer guards against: it planned with the averages stream as it was, a failover
// took the newest publications back, and it is about to publish a later hour past them.
it('refuses to publish past publications the stream lost (regressed), so they can be made again first', async () => {
  const { keys } = fresh();
  const scripts = defineAggregatorScripts(redis);
  const hour = (h: number) => Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (10 - h) * HOUR_MS;
  const publish = (h: number, newestKnown: number | '') =>
    scripts.publishHour(
      [keys.averages, `{${keys.averages}}:sources:${hour(h)}`],
      [hour(h), 120, 60_000, '[]', newestKnown, 'date', 'd', 'hour', String(h)],
    );
  expect(await publish(1, '')).toEqual(['published', '']);
  // The stream's newest is hour 1, but hour 2 was known published: it was lost.
  expect(await publish(3, hour(2))).toEqual(['regressed', `${hour(1)}-0`]);
  expect(await redis.xlen(keys.averages)).toBe(1);
  expect(await publish(2, hour(1))).toEqual(['published', '']);
  expect(await publish(3, hour(2))).toEqual(['published', '']);
  expect(await publish(2, hour(3))).toEqual(['already', '[]']);
});

// The same loss while an aggregator runs: its next close round finds the lost hours settled and newer
// than the stream; publishing them, it finds the stream behind the newest hour it knew (regressed),
// forgets that hour and makes the lost ones again, in order, before the next hour.
it('makes lost publications again, in order, before the next hour when the stream loses them under a running aggregator', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 6 * HOUR_MS;
  const readings = readingsBetween(from, from + 4 * HOUR_MS, 60_000, 3, 12);
  // Stream time passes the fourth hour's end: four hours are due.
  const fifth = [{ device: 'sensor-0', ts: from + 4 * HOUR_MS + 1, temp_f: 50 }];
  await writeReadings(redis, keys, [...readings, ...fifth]);
  const run = start(keys, { grace: 0, blockMs: 100 });
  await waitFor('four hours', async () => (await redis.xlen(keys.averages)) === 4, 10_000);

  const all = await redis.xrange(keys.averages, '-', '+');
  const lost = all.slice(2).map(([id]) => id.split('-')[0]);
  await redis.del(keys.averages, ...lost.map((hour) => `{${keys.averages}}:sources:${hour}`));
  for (const [id, fields] of all.slice(0, 2)) await redis.xadd(keys.averages, id, ...fields);
  // A reading of the sixth hour makes the fifth due.
  await writeReadings(redis, keys, [{ device: 'sensor-1', ts: from + 5 * HOUR_MS + 1, temp_f: 60 }]);

  await waitFor('five hours', async () => (await redis.xlen(keys.averages)) === 5, 10_000);
  await expectAveragesToMatch(redis, keys, expectedHours([...readings, ...fifth]));
  expect(
    run.logged(
      'the averages stream lost publications (a failover without --wait-replicas?); making them again first',
    ),
  ).toEqual([
    expect.objectContaining({
      level: 50,
      hourStart: Number(lost[0]),
      newestKnown: Number(lost[1]),
      newestNow: all[1]![0],
    }),
  ]);
  const repaired = run.logs.filter((line) => line.msg.startsWith('published an hour again'));
  expect(repaired.map((line) => String(line.hourStart))).toEqual(lost);
  expect(await new Stream(redis, keys.late).length()).toBe(0);
});
