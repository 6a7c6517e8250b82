import {
  expectAveragesToMatch,
  expectedHours,
  readingsBetween,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { connect, DAY_MS, groupsOf, HOUR_MS, PipelineKeys, type RedisClient } from '@pipe/streams';
import { RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { STOP_BUDGET_MS } from '../src/aggregator.js';
import { inProcessAggregators, logText } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { start, drain } = inProcessAggregators();
const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;

describe('Aggregator run() and stop()', () => {
  it('refuses to run twice', async () => {
    const { keys } = fresh();
    const run = start(keys, { blockMs: 100 });
    await waitFor('the loop to run', () => run.aggregator.isRunning);
    await expect(run.aggregator.run()).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    expect(run.aggregator.isRunning).toBe(true);
  });

  it('reads nothing when stopped before it claimed the averages', async () => {
    const { keys } = fresh();
    const from = yesterday + 4 * HOUR_MS;
    await writeReadings(redis, keys, readingsBetween(from, from + HOUR_MS, 60_000, 2, 31));
    const run = start(keys);
    const stopped = run.aggregator.stop();
    await run.ended;
    await stopped;
    expect(run.aggregator.isRunning).toBe(false);
    expect(await groupsOf(redis, keys.partitionKeyFor(from))).toEqual([]);
    expect(run.logged('aggregator started')).toEqual([]);
  });
});

describe('Aggregator on a Redis of its own', () => {
  let server: RedisServer | undefined;
  let client: RedisClient | undefined;
  afterEach(async () => {
    client?.disconnect();
    if (server?.pid) process.kill(server.pid, 'SIGCONT');
    await server?.stop();
    server = client = undefined;
  });

  async function ownServer(args: string[] = []) {
    server = await RedisServer.start({ args });
    client = connect({ url: server.url });
    client.on('error', () => {});
    return { server, client, keys: new PipelineKeys(randomPrefix('agg')) };
  }

  it('keeps trying to claim the averages while Redis refuses writes (out of memory), then counts exactly', async () => {
    const { server, client, keys } = await ownServer(['--maxmemory-policy', 'noeviction']);
    const from = yesterday + 6 * HOUR_MS;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 3, 32);
    await writeReadings(client, keys, readings);
    const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    await client.config('SET', 'maxmemory', String(used));
    // A live aggregator (no drain) never gives up: it says why it waits and tries again every second.
    const run = start(keys, { idleClose: 200, grace: 0, blockMs: 100 }, { url: server.url });
    const retry = await waitFor('a retry', () => run.logged('cannot claim the averages yet; retrying')[0]);
    expect(String((retry.err as { message: string }).message)).toMatch(/^OOM /);
    expect(run.logged('aggregator started')).toEqual([]);
    await client.config('SET', 'maxmemory', '0');
    await waitFor('every hour', async () => (await client.xlen(keys.averages)) === 2, 10_000);
    await expectAveragesToMatch(client, keys, expectedHours(readings));
  });

  it('stop() gives up after STOP_BUDGET_MS when Redis does not answer, naming what stays pending', async () => {
    const { server, client, keys } = await ownServer();
    const from = yesterday + 14 * HOUR_MS;
    const readings = readingsBetween(from, from + 3 * HOUR_MS, 2_000, 4, 14);
    await writeReadings(client, keys, readings);
    const partition = keys.partitionKeyFor(from);
    // Small batches, so that it is in the middle of one when Redis stops answering.
    const run = start(keys, { consumer: 'live-1', count: 20 }, { url: server.url });
    await waitFor('the aggregator to be counting', async () => {
      const [group] = await groupsOf(client, partition).catch(() => []);
      return (group?.entriesRead ?? 0) >= 1000;
    });
    // The master is gone as far as its clients can tell: commands are sent and never answered.
    process.kill(server.pid!, 'SIGSTOP');
    const stopping = Date.now();
    await run.aggregator.stop();
    const tookMs = Date.now() - stopping;
    expect(tookMs).toBeGreaterThanOrEqual(STOP_BUDGET_MS - 50);
    expect(tookMs).toBeLessThan(STOP_BUDGET_MS + 1000);
    const [left] = run.logs.filter((l) =>
      /^stopped (without acknowledging|with a Redis command)/.test(l.msg),
    );
    expect(left, logText(run)).toMatchObject({ level: 40, consumer: 'live-1', waitedMs: STOP_BUDGET_MS });
    // A batch in hand is named by partition and entry IDs: what the reaper or a drain will adopt.
    const batch = left!.batch as { stream: string; entries: number; firstId: string; lastId: string }[];
    expect(left!.entries).toBe(batch.reduce((sum, b) => sum + b.entries, 0));
    for (const b of batch) expect(b).toMatchObject({ stream: partition, entries: expect.any(Number) });

    process.kill(server.pid!, 'SIGCONT');
    await run.ended;
    // Nothing was lost or doubled: a drain adopts what live-1 left pending and counts it once.
    await drain(keys, { minIdle: 500, adoptAfter: 500 }, { url: server.url });
    await expectAveragesToMatch(client, keys, expectedHours(readings));
  });
});
