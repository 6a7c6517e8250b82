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
import { DAY_MS, HOUR_MS, type PipelineKeys, type RedisClient, Stream } from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { DrainBlockedError } from '../src/dead-consumers.js';
import { inProcessAggregators, logText, metricValue } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { start, drain } = inProcessAggregators();
const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
const WAITING = 'drain waiting for entries pending with a consumer not seen for --min-idle';
const ADOPTED = 'drain adopted entries pending with a consumer not seen for --min-idle';
const LIVE = 'drain waiting for entries pending with a live consumer';

/** `count` entries of `partition` read by `consumer` of the aggregator's group, left pending. */
const hold = (client: RedisClient, partition: string, consumer: string, count: number) =>
  holdEntries(client, { group: 'aggregator', consumer, stream: partition, count });

/** XPENDING per consumer of the group on `partition`. */
async function pendingByConsumer(client: RedisClient, partition: string): Promise<Record<string, number>> {
  const [, , , consumers] = (await client.call('XPENDING', partition, 'aggregator')) as [
    number,
    unknown,
    unknown,
    [string, string][] | null,
  ];
  return Object.fromEntries((consumers ?? []).map(([name, n]) => [name, Number(n)]));
}

async function publishedObservations(client: RedisClient, keys: PipelineKeys): Promise<number> {
  return (await publishedAverages(client, keys)).reduce((sum, a) => sum + a.num_observations, 0);
}

describe('a drain with entries pending with another consumer', () => {
  it('warns naming partition, consumer, count and idle time, adopts them after --adopt-after, dead-letters one delivered too often, and publishes exact averages', async () => {
    const { keys } = fresh();
    const from = yesterday + 3 * HOUR_MS;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 3, 11);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    // A consumer read 50 entries and died (kill -9) before acknowledging them; no reaper runs.
    const held = await hold(redis, partition, 'dead-one', 50);
    // The first had already been delivered 5 times (--max-deliveries): a poison entry.
    for (let i = 0; i < 4; i++) await redis.call('XCLAIM', partition, 'aggregator', 'dead-one', 0, held[0]!);

    const run = await drain(keys, { minIdle: 500, adoptAfter: 2000 });

    const lines = run.logs;
    const waiting = run.logged(WAITING);
    expect(waiting.length, logText(run)).toBeGreaterThan(0);
    expect(waiting[0]).toMatchObject({ level: 40, partition, consumer: 'dead-one', pending: 50 });
    expect(waiting[0]!.idleMs).toBeGreaterThanOrEqual(500);
    const adopted = lines.find((l) => l.msg === ADOPTED);
    expect(adopted, logText(run)).toMatchObject({ partition, from: 'dead-one', count: 49, deadLettered: 1 });
    // It waited --adopt-after from the first warning before it took them.
    expect((adopted!.time as number) - (waiting[0]!.time as number)).toBeGreaterThanOrEqual(1900);
    expect(lines.find((l) => l.msg === 'drained')).toMatchObject({ adopted: 49 });
    expect(await metricValue(run, 'pipe_entries_dead_lettered_total')).toBe(1);

    const letters = await new Stream(redis, keys.deadLetters).range();
    expect(letters).toHaveLength(1);
    const letter = Object.fromEntries(chunk(letters[0]!.fields));
    expect(letter).toMatchObject({ stream: partition, id: held[0], consumer: 'dead-one' });
    expect(letter.reason).toMatch(/^delivered 5 times without ack$/);
    await expectAveragesToMatch(redis, keys, expectedHours(readings.slice(1)));
    expect(await publishedObservations(redis, keys)).toBe(readings.length - 1);
    expect(await pendingByConsumer(redis, partition)).toEqual({});
  });

  it('adopts what is left of a dead consumer’s entries and names those no longer in the stream', async () => {
    const { keys } = fresh();
    const from = yesterday + 5 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 15);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const held = await hold(redis, partition, 'dead-one', 10);
    // Someone deleted three of them from the partition (XDEL, a trim) while they were pending.
    const deleted = held.slice(2, 5);
    await redis.xdel(partition, ...deleted);

    const run = await drain(keys, { minIdle: 500, adoptAfter: 500 });
    expect(run.logged('pending entries no longer in stream')).toEqual([
      expect.objectContaining({ level: 40, partition, consumer: 'dead-one', count: 3, ids: deleted }),
    ]);
    expect(run.logged(ADOPTED)[0]).toMatchObject({ from: 'dead-one', count: 7 });
    const kept = readings.filter((_, i) => i < 2 || i >= 5);
    await expectAveragesToMatch(redis, keys, expectedHours(kept));
    expect(await pendingByConsumer(redis, partition)).toEqual({});
  });

  it('with adoptAfter off gives up after giveUpAfter, naming partition, consumer and count, and takes nothing', async () => {
    const { keys } = fresh();
    const from = yesterday + 7 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 12);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    await hold(redis, partition, 'dead-one', 30);

    const started = Date.now();
    const run = start(keys, { drain: true, minIdle: 500, adoptAfter: 'off', giveUpAfter: 1000 });
    const err = await run.ended.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, logText(run)).toBeInstanceOf(DrainBlockedError);
    // main.ts prints this message as the process's one line on stderr and exits 3 (process.test.ts).
    expect((err as Error).message).toMatch(
      new RegExp(
        `^the drain gave up after 1(\\.\\d)?s waiting for entries pending with consumers not seen for --min-idle \\(0\\.5s\\): ${partition.replaceAll('.', '\\.')} has 30 with "dead-one" \\(not seen for \\d+(\\.\\d)?s\\)\\. With --adopt-after off nothing adopts them: run the reaper, or drain with --adopt-after$`,
      ),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    const waiting = run.logged(WAITING)[0];
    expect(waiting, logText(run)).toMatchObject({ partition, consumer: 'dead-one', pending: 30 });
    expect(waiting!.giveUpInMs).toBeLessThanOrEqual(1000);
    expect(await pendingByConsumer(redis, partition)).toEqual({ 'dead-one': 30 });
  });

  it('waits for entries a live consumer keeps working, without taking them, and adopts them once it stops', async () => {
    const { keys } = fresh();
    const from = yesterday + 10 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 13);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const held = await hold(redis, partition, 'busy-one', 20);
    // `busy-one` works its batch, as a live aggregator does: it re-reads its own pending entries (a
    // delivery each, resetting their idle time and its own) every 300 ms; it acknowledges nothing yet.
    const busy = readPendingEvery(redis, { group: 'aggregator', consumer: 'busy-one', stream: partition });
    try {
      const run = start(keys, { drain: true, minIdle: 1000, adoptAfter: 500, maxDeliveries: 1000 });
      // Said at info once it has waited 5 s for it; by then the entries themselves are idle past --min-idle.
      const live = await waitFor('the live-consumer note', () => run.logged(LIVE)[0]);
      expect(live).toMatchObject({ level: 30, partition, consumer: 'busy-one', pending: 20 });
      expect(live.idleMs).toBeLessThan(1000);
      expect(live.unchangedMs).toBeLessThan(1000);
      expect(await pendingByConsumer(redis, partition)).toMatchObject({ 'busy-one': held.length });
      expect(run.logs.filter((l) => l.msg === WAITING || l.msg === ADOPTED)).toEqual([]);
      expect(run.aggregator.isRunning).toBe(true);

      // It dies: the drain warns, adopts its entries after --adopt-after and finishes.
      await busy.stop();
      await run.ended;
      expect(run.logged(ADOPTED)[0]).toMatchObject({ from: 'busy-one', count: 20 });
      await expectAveragesToMatch(redis, keys, expectedHours(readings));
      expect(await publishedObservations(redis, keys)).toBe(readings.length);
    } finally {
      await busy.stop();
    }
  });

  it('adopts the entries of a consumer still seen that leaves them untouched for --min-idle', async () => {
    const { keys } = fresh();
    const from = yesterday + 12 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 14);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const held = await hold(redis, partition, 'seen-one', 20);
    // `seen-one` keeps showing up (an empty read of its PEL past its last entry resets its idle time,
    // not its entries', nor their delivery counts; a reaper holding suspects back with it does as much)
    // but never works its entries: XINFO says live, its entries say otherwise.
    const seen = readPendingEvery(redis, {
      group: 'aggregator',
      consumer: 'seen-one',
      stream: partition,
      after: held.at(-1)!,
      everyMs: 100,
    });
    try {
      const started = Date.now();
      const run = await drain(keys, { minIdle: 1000, adoptAfter: 500 }, { withinMs: 10_000 });
      const waiting = run.logged(WAITING)[0];
      expect(waiting, logText(run)).toMatchObject({
        level: 40,
        partition,
        consumer: 'seen-one',
        pending: 20,
      });
      expect(waiting!.idleMs).toBeLessThan(1000);
      expect(waiting!.unchangedMs).toBeGreaterThanOrEqual(1000);
      expect(run.logged(ADOPTED)[0]).toMatchObject({ from: 'seen-one', count: 20 });
      expect(Date.now() - started).toBeLessThan(8_000);
      await expectAveragesToMatch(redis, keys, expectedHours(readings));
      expect(await publishedObservations(redis, keys)).toBe(readings.length);
    } finally {
      await seen.stop();
    }
  });
});

function chunk(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}
