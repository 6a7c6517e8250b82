import { connect, DAY_MS, PipelineKeys, type RedisClient, Stream } from '@pipe/streams';
import { RedisServer, randomPrefix, sleep, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { publishedAverages } from './fixtures/averages.js';
import { expectedHours, HOUR_MS, readingsBetween, writeReadings } from './fixtures/dataset.js';
import { type AppProcess, startAggregator } from './fixtures/processes.js';
import { expectAveragesToMatch, sharedRedis } from './fixtures/setup.js';

const { redis, fresh } = sharedRedis();
const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
const WAITING = 'drain waiting for entries pending with a consumer not seen for --min-idle';
const ADOPTED = 'drain adopted entries pending with a consumer not seen for --min-idle';
const LIVE = 'drain waiting for entries pending with a live consumer';

let running: AppProcess[] = [];
afterEach(async () => {
  for (const run of running) run.kill('SIGKILL');
  await Promise.all(running.map((run) => run.exited));
  running = [];
});

/** Starts the aggregator; killed after 25 s, so that a drain that never ends fails with its output. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): AppProcess {
  const run = startAggregator(args, env);
  running.push(run);
  const timer = setTimeout(() => run.kill('SIGKILL'), 25_000);
  void run.exited.then(() => clearTimeout(timer));
  return run;
}

/** The process's JSON log lines. */
function logLines(run: AppProcess): Record<string, unknown>[] {
  return run
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

/** `consumer` of the group reads the partition's first `count` entries and never acknowledges them. */
async function hold(
  client: RedisClient,
  partition: string,
  consumer: string,
  count: number,
): Promise<string[]> {
  await client.call('XGROUP', 'CREATE', partition, 'aggregator', '0').catch((err: Error) => {
    if (!err.message.startsWith('BUSYGROUP')) throw err;
  });
  const reply = (await client.call(
    'XREADGROUP',
    'GROUP',
    'aggregator',
    consumer,
    'COUNT',
    count,
    'STREAMS',
    partition,
    '>',
  )) as [string, [string, string[]][]][];
  return reply[0]![1].map(([id]) => id);
}

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

describe('run --drain with entries pending with another consumer', () => {
  it('warns naming partition, consumer, count and idle time, adopts them after --adopt-after, dead-letters one delivered too often, and publishes exact averages', async () => {
    const { keys, flags } = fresh();
    const from = yesterday + 3 * HOUR_MS;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 3, 11);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    // A consumer read 50 entries and died (kill -9) before acknowledging them; no reaper runs.
    const held = await hold(redis, partition, 'dead-one', 50);
    // The first had already been delivered 5 times (--max-deliveries): a poison entry.
    for (let i = 0; i < 4; i++) await redis.call('XCLAIM', partition, 'aggregator', 'dead-one', 0, held[0]!);

    const run = start(['run', '--drain', ...flags, '--min-idle', '500ms', '--adopt-after', '2s'], {
      LOG_LEVEL: 'info',
    });
    const { code } = await run.exited;
    expect(code, run.output()).toBe(0);

    const lines = logLines(run);
    const waiting = lines.filter((l) => l.msg === WAITING);
    expect(waiting.length, run.output()).toBeGreaterThan(0);
    expect(waiting[0]).toMatchObject({ level: 40, partition, consumer: 'dead-one', pending: 50 });
    expect(waiting[0]!.idleMs).toBeGreaterThanOrEqual(500);
    const adopted = lines.find((l) => l.msg === ADOPTED);
    expect(adopted, run.output()).toMatchObject({ partition, from: 'dead-one', count: 49, deadLettered: 1 });
    // It waited --adopt-after from the first warning before it took them.
    expect((adopted!.time as number) - (waiting[0]!.time as number)).toBeGreaterThanOrEqual(1900);
    expect(lines.find((l) => l.msg === 'drained')).toMatchObject({ adopted: 49 });

    const letters = await new Stream(redis, keys.deadLetters).range();
    expect(letters).toHaveLength(1);
    const letter = Object.fromEntries(chunk(letters[0]!.fields));
    expect(letter).toMatchObject({ stream: partition, id: held[0], consumer: 'dead-one' });
    expect(letter.reason).toMatch(/^delivered 5 times without ack$/);
    await expectAveragesToMatch(redis, keys, expectedHours(readings.slice(1)));
    expect(await publishedObservations(redis, keys)).toBe(readings.length - 1);
    expect(await pendingByConsumer(redis, partition)).toEqual({});
  });

  it('with --adopt-after off exits 3 after --give-up-after, naming partition, consumer and count, and takes nothing', async () => {
    const { keys, flags } = fresh();
    const from = yesterday + 7 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 12);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    await hold(redis, partition, 'dead-one', 30);

    const started = Date.now();
    const run = start([
      'run',
      '--drain',
      ...flags,
      '--min-idle',
      '500ms',
      '--adopt-after',
      'off',
      '--give-up-after',
      '1s',
    ]);
    const { code, stderr } = await run.exited;
    expect(code, run.output()).toBe(3);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^pipe-aggregator: the drain gave up after 1(\\.\\d)?s waiting for entries pending with consumers not seen for --min-idle \\(0\\.5s\\): ${partition.replaceAll('.', '\\.')} has 30 with "dead-one" \\(not seen for \\d+(\\.\\d)?s\\)\\. With --adopt-after off nothing adopts them: run the reaper, or drain with --adopt-after$`,
        ),
      ),
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
    const waiting = logLines(run).find((l) => l.msg === WAITING);
    expect(waiting, run.output()).toMatchObject({ partition, consumer: 'dead-one', pending: 30 });
    expect(waiting!.giveUpInMs).toBeLessThanOrEqual(1000);
    expect(await pendingByConsumer(redis, partition)).toEqual({ 'dead-one': 30 });
  });

  it('waits for entries pending with a consumer still seen, without taking them, and adopts them once it is not seen for --min-idle', async () => {
    const { keys, flags } = fresh();
    const from = yesterday + 10 * HOUR_MS;
    const readings = readingsBetween(from, from + HOUR_MS, 60_000, 2, 13);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const held = await hold(redis, partition, 'busy-one', 20);
    // `busy-one` keeps showing up, as a live aggregator does: it reads its own PEL past its last entry
    // (an empty read of its PEL resets its idle time, not its entries', nor their delivery counts).
    let alive = true;
    const heartbeat = (async () => {
      while (alive) {
        await redis.call('XREADGROUP', 'GROUP', 'aggregator', 'busy-one', 'STREAMS', partition, held.at(-1)!);
        await sleep(100);
      }
    })();
    try {
      const run = start(['run', '--drain', ...flags, '--min-idle', '1s', '--adopt-after', '500ms'], {
        LOG_LEVEL: 'info',
      });
      // Said at info once it has waited 5 s for it; by then the entries themselves are idle past --min-idle.
      const live = await waitFor('the live-consumer note', () => logLines(run).find((l) => l.msg === LIVE));
      expect(live).toMatchObject({ level: 30, partition, consumer: 'busy-one', pending: 20 });
      expect(live.idleMs).toBeLessThan(1000);
      expect(await pendingByConsumer(redis, partition)).toEqual({ 'busy-one': 20 });
      expect(logLines(run).filter((l) => l.msg === WAITING || l.msg === ADOPTED)).toEqual([]);
      expect(run.child.exitCode).toBeNull();

      // It dies: the drain warns, adopts its entries after --adopt-after and finishes.
      alive = false;
      await heartbeat;
      const { code } = await run.exited;
      expect(code, run.output()).toBe(0);
      expect(logLines(run).find((l) => l.msg === ADOPTED)).toMatchObject({ from: 'busy-one', count: 20 });
      await expectAveragesToMatch(redis, keys, expectedHours(readings));
      expect(await publishedObservations(redis, keys)).toBe(readings.length);
    } finally {
      alive = false;
      await heartbeat;
    }
  });
});

describe('SIGTERM of a live aggregator while Redis does not answer', () => {
  let server: RedisServer | undefined;
  afterEach(async () => {
    if (server?.pid) process.kill(server.pid, 'SIGCONT');
    await server?.stop();
    server = undefined;
  });

  it('exits 0 within the 5 s stop grace, naming what it left pending, and a drain adopts that and publishes exact averages', async () => {
    server = await RedisServer.start();
    const client = connect({ url: server.url });
    client.on('error', () => {});
    try {
      const keys = new PipelineKeys(randomPrefix('agg'));
      const flags = ['--redis-url', server.url, '--prefix', keys.prefix];
      const from = yesterday + 14 * HOUR_MS;
      const readings = readingsBetween(from, from + 3 * HOUR_MS, 2_000, 4, 14);
      await writeReadings(client, keys, readings);
      const partition = keys.partitionKeyFor(from);
      // Small batches, so that it is in the middle of one when Redis stops answering.
      const live = start(['run', ...flags, '--consumer', 'live-1', '--count', '20']);
      await waitFor('the aggregator to be counting', async () => {
        const groups = (await client.call('XINFO', 'GROUPS', partition).catch(() => [])) as unknown[][];
        const row = groups[0];
        if (!row) return false;
        const read = Number(row[row.indexOf('entries-read') + 1]);
        return read >= 1000 && read < readings.length - 1000;
      });
      // The master is gone as far as its clients can tell: commands are sent and never answered.
      process.kill(server.pid!, 'SIGSTOP');
      const stopping = Date.now();
      live.kill('SIGTERM');
      const { code } = await live.exited;
      const tookMs = Date.now() - stopping;
      expect(code, live.output()).toBe(0);
      expect(tookMs, live.output()).toBeLessThan(5000);
      const left = logLines(live).find((l) =>
        /^stopped (without acknowledging|with a Redis command)/.test(String(l.msg)),
      );
      expect(left, live.output()).toMatchObject({ consumer: 'live-1', waitedMs: 4000 });
      expect(live.output()).not.toMatch(/stop took too long/);

      process.kill(server.pid!, 'SIGCONT');
      const drain = start(['run', '--drain', ...flags, '--min-idle', '500ms', '--adopt-after', '500ms']);
      const drained = await drain.exited;
      expect(drained.code, drain.output()).toBe(0);
      await expectAveragesToMatch(client, keys, expectedHours(readings));
      expect(await publishedObservations(client, keys)).toBe(readings.length);
      expect(await new Stream(client, keys.late).length()).toBe(0);
      expect(await new Stream(client, keys.deadLetters).length()).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

function chunk(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}
