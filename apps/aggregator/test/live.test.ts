import {
  expectedHours,
  publishedAverages,
  readingsBetween,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, encodeReading, HOUR_MS, type PipelineKeys, Stream } from '@pipe/streams';
import { clearOfTurn, sleep, waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { start } = inProcessAggregators();
const base = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;

/** The first hourly average, once one is published (within 5 s). */
const firstAverage = (keys: PipelineKeys) =>
  waitFor('the first average', async () => (await publishedAverages(redis, keys))[0], 5000);

describe('Aggregator (live)', () => {
  it('publishes an hour once stream time passes its end plus the grace, and not before', async () => {
    const { keys } = fresh();
    start(keys, { grace: 600_000, blockMs: 200 });
    const hourOne = base + 10 * HOUR_MS;
    const first = readingsBetween(hourOne, hourOne + HOUR_MS, 60_000, 2, 11);
    await writeReadings(redis, keys, first);
    // Stream time reaches 00:09 of the next hour: inside the grace, so nothing is published yet.
    await writeReadings(redis, keys, [{ device: 'x', ts: hourOne + HOUR_MS + 9 * 60_000, temp_f: 1 }]);
    await sleep(1500);
    expect(await new Stream(redis, keys.averages).length()).toBe(0);
    // 00:10:00.001 passes end + grace: the hour is published.
    await writeReadings(redis, keys, [{ device: 'x', ts: hourOne + HOUR_MS + 10 * 60_000 + 1, temp_f: 2 }]);
    const average = await firstAverage(keys);
    expect(average.num_observations).toBe(first.length);
    expect(average.average_temp_f).toBeCloseTo(expectedHours(first)[0]!.mean, 9);
  });

  it('does not let a reading stamped in the future, or a short idle, close the current hour', async () => {
    const { keys } = fresh();
    start(keys, { grace: 0, idleClose: 1000, blockMs: 200 });
    // The running hour must still be running when the test looks, 2.5 s and an idle close later.
    await clearOfTurn(HOUR_MS, 10_000);
    const now = Date.now();
    await writeReadings(redis, keys, [
      { device: 'now', ts: now, temp_f: 70 },
      { device: 'ahead', ts: now + 20 * HOUR_MS, temp_f: 71 },
    ]);
    // Stream time would be 20 h ahead and the group idle for more than --idle-close: neither may
    // publish the hour that is still running.
    await sleep(2500);
    expect(await new Stream(redis, keys.averages).length()).toBe(0);
    const pending = (await redis.xpending(keys.partitionKeyFor(now), 'aggregator')) as [number];
    expect(pending[0]).toBe(0);
  });

  it('seals a shard created moments before its hour closes together with the others', async () => {
    const { keys } = fresh();
    start(keys, { grace: 0, blockMs: 200 });
    const hour = base + 10 * HOUR_MS;
    const add = (index: number, ts: number, temp_f: number) =>
      redis.xadd(
        keys.partitionKeyFor(ts, { index, count: 2 }),
        '*',
        ...encodeReading({ device: `d${index}`, ts, temp_f }),
      );
    await add(0, hour + 60_000, 60);
    await sleep(2500); // the aggregator has found shard 0 (it rediscovers every 2 s) and counted it
    // Shard 1 appears, and at once shard 0 moves stream time past the hour's end: the hour is due
    // before the periodic discovery could find shard 1, so closing must look for shards first.
    await add(1, hour + 120_000, 80);
    await add(0, hour + HOUR_MS + 1, 10);
    const average = await firstAverage(keys);
    expect(average.num_observations).toBe(2);
    expect(average.average_temp_f).toBe(70);
    expect(await redis.xlen(keys.late)).toBe(0);
  });

  it('seals no shard of an hour while another shard holds it back, so its readings meanwhile still count', async () => {
    const { keys } = fresh();
    const hour = base + 12 * HOUR_MS;
    const shardKey = (index: number) => keys.partitionKeyFor(hour, { index, count: 2 });
    const add = (index: number, ts: number, temp_f: number) =>
      redis.xadd(shardKey(index), '*', ...encodeReading({ device: `d${index}`, ts, temp_f }));
    await add(0, hour + 60_000, 50);
    await add(1, hour + 60_000, 60);
    await add(1, hour + HOUR_MS + 1, 10); // stream time passes the hour's end
    // A consumer that crashed holding shard 0's reading of the hour: the hour waits for it.
    await redis.xgroup('CREATE', shardKey(0), 'aggregator', '0');
    await redis.xreadgroup('GROUP', 'aggregator', 'crashed', 'COUNT', 1, 'STREAMS', shardKey(0), '>');
    start(keys, { grace: 0, blockMs: 200, pendingCheck: 200, consumer: 'live' });
    await sleep(2000);
    expect(await new Stream(redis, keys.averages).length()).toBe(0);
    expect(await redis.hget(keys.companionKey(shardKey(1), 'agg'), 'sealed')).toBeNull();
    // Shard 1 is not sealed, so a reading of the hour that comes now is counted, not late.
    await add(1, hour + 120_000, 70);
    await sleep(500);
    // The reaper's part: the crashed consumer's reading goes to a live one.
    await redis.xclaim(
      shardKey(0),
      'aggregator',
      'live',
      0,
      (await redis.xrange(shardKey(0), '-', '+'))[0]![0],
    );
    const average = await firstAverage(keys);
    expect(average.num_observations).toBe(3);
    expect(average.average_temp_f).toBe(60);
    expect(await redis.xlen(keys.late)).toBe(0);
  });

  it('lets --idle-close publish a quiet hour only once its end + --grace has passed on the clock', async () => {
    const { keys } = fresh();
    start(keys, { grace: 2 * HOUR_MS, idleClose: 1000, blockMs: 200 });
    // The last hour that ended (0-60 min ago: inside the grace) and one that ended over 2 h ago.
    const lastHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    const oldHour = lastHour - 3 * HOUR_MS;
    await writeReadings(redis, keys, [
      { device: 'a', ts: oldHour + 60_000, temp_f: 50 },
      { device: 'a', ts: lastHour + 60_000, temp_f: 60 },
    ]);
    const published = await waitFor(
      'the old hour',
      async () => {
        const averages = await publishedAverages(redis, keys);
        return averages.length > 0 ? averages : undefined;
      },
      8000,
    );
    // Quiet for several --idle-close spells: the recent hour must stay open for its stragglers.
    await sleep(3000);
    expect((await publishedAverages(redis, keys)).map((a) => a.hourStart)).toEqual([oldHour]);
    expect(published[0]!.num_observations).toBe(1);
    await writeReadings(redis, keys, [{ device: 'b', ts: lastHour + 120_000, temp_f: 70 }]);
    await sleep(2000);
    expect(await new Stream(redis, keys.late).length()).toBe(0);
    expect(await new Stream(redis, keys.averages).length()).toBe(1);
  });

  it('closes the last open hour after --idle-close without new readings', async () => {
    const { keys } = fresh();
    start(keys, { idleClose: 1000, blockMs: 200 });
    const readings = readingsBetween(base + 3 * HOUR_MS, base + 3 * HOUR_MS + 30 * 60_000, 60_000, 2, 12);
    await writeReadings(redis, keys, readings);
    const started = Date.now();
    await waitFor('the last hour', async () => (await new Stream(redis, keys.averages).length()) === 1, 8000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});
