import { readingsBetween, sharedRedis, writeReadings } from '@pipe/fixtures';
import { ConsumerGroup, DAY_MS, HOUR_MS, type PipelineKeys } from '@pipe/streams';
import { expect, it } from 'vitest';
import { AggregatorStateKeys } from '../src/state-keys.js';
import { countBatch } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');

/**
 * `consumer` reads every entry of the partition; while it has them in hand, someone else acknowledges
 * the last one (the reaper dead-lettered it, or another consumer counted it); then it counts its batch.
 */
async function countWithLastTakenAway(keys: PipelineKeys, partition: string, consumer: string) {
  const group = new ConsumerGroup(redis, 'aggregator', [partition], consumer);
  await group.create();
  const inHand = (await group.read({ count: 1000 })).get(partition)!;
  await group.ack(partition, inHand.at(-1)!.id);
  return countBatch(redis, keys, partition, consumer, inHand);
}

it('counts an entry once when the reaper claimed it away from a consumer that still had it in hand', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 4 * HOUR_MS;
  const readings = readingsBetween(from, from + 10 * 60_000, 60_000, 5, 3);
  await writeReadings(redis, keys, readings);
  const partition = keys.partitionKeyFor(from);
  const state = new AggregatorStateKeys(keys);
  const slow = new ConsumerGroup(redis, 'aggregator', [partition], 'slow');
  await slow.create();

  // `slow` reads the batch, then stalls; the reaper hands half of it to `quick`, which counts it.
  const inHand = (await slow.read({ count: 1000 })).get(partition)!;
  expect(inHand).toHaveLength(readings.length);
  const quick = slow.consumer('quick');
  const claimed = await quick.claim(
    partition,
    inHand.slice(0, 20).map((e) => e.id),
  );
  const quickRun = await countBatch(redis, keys, partition, 'quick', claimed);
  const slowRun = await countBatch(redis, keys, partition, 'slow', inHand);
  // Both run again, as after a restart that re-reads the same entries.
  const again = await countBatch(redis, keys, partition, 'slow', inHand);

  expect(quickRun.counted).toBe(20);
  expect([slowRun.counted, slowRun.skipped]).toEqual([readings.length - 20, 20]);
  expect([again.counted, again.skipped]).toEqual([0, readings.length]);
  const hour = await redis.hgetall(state.hour(partition, from));
  expect(Number(hour.n)).toBe(readings.length);
  expect(Number(hour.sum)).toBeCloseTo(
    readings.reduce((s, r) => s + r.temp_f, 0),
    9,
  );
  expect(Number(hour.devices)).toBe(5);
  expect(((await redis.xpending(partition, 'aggregator')) as [number])[0]).toBe(0);
});

it('leaves out of min, max and devices a reading that someone else acknowledged (dead-lettered) first', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 7 * HOUR_MS;
  const readings = readingsBetween(from, from + 10 * 60_000, 60_000, 3, 4);
  await writeReadings(redis, keys, [...readings, { device: 'outlier', ts: from + 1000, temp_f: 999 }]);
  const partition = keys.partitionKeyFor(from);
  // The reaper dead-lettered the outlier while `stalled` still had it in hand.
  const { counted, skipped } = await countWithLastTakenAway(keys, partition, 'stalled');
  expect([counted, skipped]).toEqual([readings.length, 1]);
  const hour = await redis.hgetall(new AggregatorStateKeys(keys).hour(partition, from));
  const temps = readings.map((r) => r.temp_f);
  expect(Number(hour.max)).toBe(Math.max(...temps));
  expect(Number(hour.min)).toBe(Math.min(...temps));
  expect(Number(hour.devices)).toBe(3);
  expect(hour['d:outlier']).toBeUndefined();
});

it('recounts from each reading as written: exponents, signs, padding and trailing zeros', async () => {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 9 * HOUR_MS;
  const partition = keys.partitionKeyFor(from);
  // As other producers write them; `recount` in accumulate-batch-n.lua reads these texts with tonumber.
  const texts = ['7.15e1', '+68', ' 70.25 ', '69.50', '.5e2', '072', '70.', '\u00a071\u00a0'];
  for (const [i, temp] of texts.entries()) {
    await redis.xadd(partition, '*', 'device', `d${i % 3}`, 'ts', String(from + i * 1000), 'temp_f', temp);
  }
  // Twice: the codec takes the last, and so must the text the recount reads.
  await redis.xadd(partition, '*', 'device', 'd0', 'ts', String(from + 8000), 'temp_f', '10', 'temp_f', '80');
  await redis.xadd(partition, '*', 'device', 'taken', 'ts', String(from + 9000), 'temp_f', '99');
  // Someone else counted the last reading first: the hour is recounted from the others' own texts.
  const { counted, skipped, call } = await countWithLastTakenAway(keys, partition, 'slow');
  expect(call.readings.every((r) => r !== undefined)).toBe(true);
  expect([counted, skipped]).toEqual([texts.length + 1, 1]);
  const temps = [...texts.map(Number), 80];
  const hour = await redis.hgetall(new AggregatorStateKeys(keys).hour(partition, from));
  expect(Number(hour.n)).toBe(temps.length);
  expect(Number(hour.sum)).toBeCloseTo(
    temps.reduce((s, t) => s + t, 0),
    9,
  );
  expect(Number(hour.min)).toBe(Math.min(...temps));
  expect(Number(hour.max)).toBe(Math.max(...temps));
  expect(Number(hour.devices)).toBe(3);
});
