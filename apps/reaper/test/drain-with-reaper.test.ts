// A drain (`pipe-aggregator run --drain`) while the reaper keeps sweeping: the aggregator's core is
// built in this process from its build (`dist/`, as with-aggregator.test.ts runs its main), beside a
// Reaper core (test/in-process.ts). Build the aggregator first (`turbo run build`).
import { Aggregator } from '@pipe/aggregator/dist/aggregator.js';
import { runConfig } from '@pipe/aggregator/dist/config.js';
import { AggregatorMetrics } from '@pipe/aggregator/dist/metrics.js';
import {
  expectAveragesToMatch,
  expectedHours,
  publishedAverages,
  readingsBetween,
  holdEntries,
  readPendingEvery,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS, type PipelineKeys, type RedisClient } from '@pipe/streams';
import { sleep, waitFor } from '@pipe/testkit';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { pendingByConsumer } from './helpers.js';
import { runReaperInProcess } from './in-process.js';

const { redis, fresh } = sharedRedis('reaper');
const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
const ADOPTED = 'drain adopted entries pending with a consumer not seen for --min-idle';
const LIVE = 'drain waiting for entries pending with a live consumer';

type LogLine = Record<string, unknown> & { msg: string; level: number; time: number };

interface Drain {
  ended: Promise<void>;
  logs: LogLine[];
  stop(): Promise<void>;
}

const drains: Drain[] = [];
afterEach(async () => {
  await Promise.all(drains.splice(0).map((d) => d.stop()));
});

/** `pipe-aggregator run --drain` in this process. */
function startDrain(
  keys: PipelineKeys,
  settings: { minIdle: number; adoptAfter: number; maxDeliveries?: number; pendingCheck?: number },
) {
  const client = connect({ url: inject('redisUrl') });
  client.on('error', () => {});
  const logs: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
  // The settings `run --drain` has without flags (the aggregator's schema owns them), but those given.
  const config = runConfig.schema.parse({ consumer: 'drain', drain: true });
  const aggregator = new Aggregator(
    { ...config, ...settings },
    { redis: client, keys, log, metrics: new AggregatorMetrics(new Registry()) },
  );
  const ended = aggregator.run().finally(() => client.disconnect());
  ended.catch(() => {});
  const drain: Drain = {
    ended,
    logs,
    stop: async () => {
      await aggregator.stop();
      await ended.catch(() => {});
    },
  };
  drains.push(drain);
  return drain;
}

/** `count` entries of `partition` read by `consumer` of the aggregator's group, left pending. */
const hold = (client: RedisClient, partition: string, consumer: string, count: number) =>
  holdEntries(client, { group: 'aggregator', consumer, stream: partition, count });

async function publishedObservations(keys: PipelineKeys): Promise<number> {
  return (await publishedAverages(redis, keys)).reduce((sum, a) => sum + a.num_observations, 0);
}

describe('a drain while the reaper sweeps', () => {
  it('adopts suspects the reaper keeps holding back with their stopped owner within --min-idle + --adopt-after + a few seconds, and counts every reading once', async () => {
    const { keys } = fresh();
    const from = yesterday + 3 * HOUR_MS;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 3, 21);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    // A slow failover: an aggregator stopped with 300 entries in hand, each delivered twice (suspects).
    const held = await hold(redis, partition, 'stopped-1', 300);
    await redis.call('XCLAIM', partition, 'aggregator', 'stopped-1', 0, ...held);
    // The reaper keeps sweeping: it hands one suspect per sweep to an idle live consumer (the drain's)
    // and claims the others back to `stopped-1`, which resets its idle time and its entries'.
    const { events } = runReaperInProcess(redis, keys, {
      holder: 'reaper-1',
      intervalMs: 250,
      minIdleMs: 1_000,
      liveWithinMs: 15_000,
    });

    const started = Date.now();
    // Its loop re-reads its own pending entries every 500 ms, under the reaper's --min-idle (as 2 s is
    // under the reaper's default 60 s), so what the reaper hands it is counted before it looks stale.
    const drain = startDrain(keys, { minIdle: 2_500, adoptAfter: 0, pendingCheck: 500 });
    // The old judgement (XINFO idle, entries idle --min-idle) waited for the reaper: ~2 s an entry.
    const outcome = await Promise.race([drain.ended.then(() => 'drained'), sleep(15_000).then(() => 'late')]);
    const text = drain.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(outcome, text).toBe('drained');
    expect(Date.now() - started).toBeLessThan(15_000);
    const adopted = drain.logs.filter((l) => l.msg === ADOPTED);
    expect(adopted[0], text).toMatchObject({ partition, from: 'stopped-1' });
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    expect(await publishedObservations(keys)).toBe(readings.length);
    const pending = Object.values(await pendingByConsumer(redis, partition, 'aggregator'));
    expect(pending.reduce((sum, n) => sum + n, 0)).toBe(0);
    // The reaper was holding suspects back meanwhile (what kept the old judgement waiting).
    expect(events.some((e) => e.msg === 'held back entries delivered more than once')).toBe(true);
  }, 40_000);

  it('never adopts the entries of a consumer that keeps working them (re-reading its pending entries), reaper or not', async () => {
    const { keys } = fresh();
    const from = yesterday + 6 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 22);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const held = await hold(redis, partition, 'busy-1', 20);
    // `busy-1` works its batch as a ConsumerLoop does: it re-reads its own pending entries (a delivery
    // each, resetting their idle time) every 300 ms; it acknowledges nothing while the test watches.
    const busy = readPendingEvery(redis, { group: 'aggregator', consumer: 'busy-1', stream: partition });
    try {
      runReaperInProcess(redis, keys, {
        holder: 'reaper-2',
        intervalMs: 250,
        minIdleMs: 1_000,
        liveWithinMs: 15_000,
        maxDeliveries: 1_000,
      });
      const drain = startDrain(keys, {
        minIdle: 1_500,
        adoptAfter: 0,
        maxDeliveries: 1_000,
        pendingCheck: 500,
      });
      const live = await waitFor(
        'the live-consumer note',
        () => drain.logs.find((l) => l.msg === LIVE),
        15_000,
      );
      expect(live).toMatchObject({ partition, consumer: 'busy-1', pending: 20 });
      await sleep(1_000);
      expect(drain.logs.filter((l) => l.msg === ADOPTED)).toEqual([]);
      expect(await pendingByConsumer(redis, partition, 'aggregator')).toMatchObject({
        'busy-1': held.length,
      });

      // It stops working them: the drain (or the reaper, to the drain) takes them, and counts each once.
      await busy.stop();
      await drain.ended;
      await expectAveragesToMatch(redis, keys, expectedHours(readings));
      expect(await publishedObservations(keys)).toBe(readings.length);
    } finally {
      await busy.stop();
    }
  }, 40_000);
});
