import {
  expectWindowsToMatch,
  readingsBetween,
  sharedRedis,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, type Reading, WindowLayout } from '@pipe/streams';
import { clearOfTurn, sleep, waitFor } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('win');
const { start, drain } = inProcessAggregators();
const SIZES = ['1m', '1h', '1d'];
const windows = WindowLayout.parse(SIZES.join(','));
const [minute, , day] = windows.sizes as [(typeof windows.sizes)[0], unknown, (typeof windows.sizes)[0]];

it('idle close publishes every size of the windows that ended, and none of the running ones', async () => {
  const { keys } = fresh();
  // The running minute, hour and day must still run when the test looks, a few seconds later.
  await clearOfTurn(DAY_MS, 30_000);
  await clearOfTurn(HOUR_MS, 30_000);
  await clearOfTurn(60_000, 30_000);
  const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
  const ended = readingsBetween(yesterday + 10 * HOUR_MS, yesterday + 12 * HOUR_MS, 30_000, 2, 21);
  // Stamped now, not a moment ago: clearOfTurn may have just waited past a turn, and a moment ago would
  // then be the window that ended, which idle close publishes once its grace is over.
  const now = Date.now();
  const running: Reading[] = [
    { device: 'sensor-0', ts: now, temp_f: 70 },
    { device: 'sensor-1', ts: now, temp_f: 71 },
  ];
  await writeReadings(redis, keys, [...ended, ...running]);
  start(keys, { windows, idleClose: 300, blockMs: 100 });
  await waitFor(
    'yesterday’s day',
    async () => (await redis.xlen(keys.averagesFor(day))) === 1 || undefined,
    15_000,
  );
  // Another idle round or two: the running windows stay open, within the grace and unfinished.
  await sleep(1_000);
  await expectWindowsToMatch(redis, keys, new WindowTally(SIZES).addAll(ended));
  const today = keys.partitionKeyFor(now);
  expect(await redis.zcard(`{${today}}:open:1m`)).toBe(1);
  expect(await redis.zcard(`{${today}}:open`)).toBe(1);
  expect(await redis.zcard(`{${today}}:open:1d`)).toBe(1);
});

it('publishes again, per size, the windows whose publication Redis lost after they settled', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS + 20 * HOUR_MS;
  const readings = readingsBetween(from, from + 6 * HOUR_MS, 60_000, 3, 13);
  await writeReadings(redis, keys, readings);
  await drain(keys, { windows });
  const tally = new WindowTally(SIZES).addAll(readings);
  await expectWindowsToMatch(redis, keys, tally);

  // A failover to a replica that lacked the last publications of the 1m and 1d streams.
  for (const [size, keep] of [
    [minute, 100],
    [day, 1],
  ] as const) {
    const stream = keys.averagesFor(size);
    const all = await redis.xrange(stream, '-', '+');
    const lost = all.slice(keep).map(([id]) => id.split('-')[0]);
    await redis.del(stream, ...lost.map((start) => `{${stream}}:sources:${start}`));
    for (const [id, fields] of all.slice(0, keep)) await redis.xadd(stream, id, ...fields);
  }
  expect(await redis.xlen(keys.averagesFor(minute))).toBe(100);
  const second = await drain(keys, { windows });
  await expectWindowsToMatch(redis, keys, tally);
  const repaired = second.logs.filter((line) => line.msg.startsWith('published an hour again'));
  expect(new Set(repaired.map((line) => line.size))).toEqual(new Set(['1m', '1d']));
  expect(repaired).toHaveLength(6 * 60 - 100 + 1);
});

it('two instances at once publish every window of every size once, exactly', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS - 3 * HOUR_MS + 11_000;
  const readings = readingsBetween(from, from + 6 * HOUR_MS, 15_000, 3, 41);
  await writeReadings(redis, keys, readings);
  const last = readings.at(-1)!.ts;
  const lastMinute = last - (last % 60_000);
  const settings = { windows, idleClose: 200, grace: 0, blockMs: 100, count: 50 };
  start(keys, { ...settings, consumer: 'one' });
  start(keys, { ...settings, consumer: 'two' });
  await waitFor(
    'the last minute',
    async () =>
      (await redis.xrevrange(keys.averagesFor(minute), '+', '-', 'COUNT', 1))[0]?.[0] === `${lastMinute}-0` ||
      undefined,
    20_000,
  );
  await waitFor(
    'both days',
    async () => (await redis.xlen(keys.averagesFor(day))) === 2 || undefined,
    10_000,
  );
  await expectWindowsToMatch(redis, keys, new WindowTally(SIZES).addAll(readings));
});
