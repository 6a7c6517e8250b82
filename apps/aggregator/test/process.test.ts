import {
  type AppProcess,
  expectAveragesToMatch,
  expectedHours,
  publishedAverages,
  readingsBetween,
  sharedRedis,
  startAggregator,
  writeReadings,
} from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS, PipelineKeys, type RedisClient, Stream } from '@pipe/streams';
import { freePort, RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessAggregators } from './in-process.js';

// `pipe-aggregator` as a process, where the process is the subject: signals, exit codes, what it
// prints, start-up errors, the metrics server. What it counts is tested on the core, in-process.

const { redis, fresh } = sharedRedis('agg');
const { drain } = inProcessAggregators();
const base = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;

let running: AppProcess[] = [];
afterEach(async () => {
  for (const run of running) run.kill('SIGKILL');
  await Promise.all(running.map((run) => run.exited));
  running = [];
});

/** Starts the aggregator; killed after 25 s, so that a run that never ends fails with its output. */
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

async function publishedObservations(client: RedisClient, keys: PipelineKeys): Promise<number> {
  return (await publishedAverages(client, keys)).reduce((sum, a) => sum + a.num_observations, 0);
}

describe('pipe-aggregator run', () => {
  it('on SIGTERM finishes the batch in hand and exits 0 within 5 s', async () => {
    const { keys, flags } = fresh();
    const readings = readingsBetween(base, base + 20 * HOUR_MS, 5_000, 3, 13);
    await writeReadings(redis, keys, readings);
    const run = start(['run', '--count', '100', ...flags]);
    await waitFor(
      'a published hour',
      async () => (await new Stream(redis, keys.averages).length()) > 0,
      10_000,
    );
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    const pending = (await redis.xpending(keys.partitionKeyFor(base), 'aggregator')) as [number];
    expect(pending[0]).toBe(0);
  });

  it('serves /healthz, /readyz and Prometheus /metrics with --metrics-port', async () => {
    const { keys, flags } = fresh();
    const port = await freePort();
    const readings = readingsBetween(base + 5 * HOUR_MS, base + 6 * HOUR_MS, 60_000, 2, 14);
    await writeReadings(redis, keys, readings);
    const run = start([
      'run',
      '--idle-close',
      '200ms',
      '--block-ms',
      '200ms',
      '--metrics-port',
      String(port),
      ...flags,
    ]);
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        '/readyz',
        async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
        5000,
      );
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const metrics = await waitFor(
        'the published hour on /metrics',
        async () => {
          const text = await (await fetch(`${url}/metrics`)).text();
          return /pipe_hours_published_total\{[^}]*\} 1\b/.test(text) ? text : undefined;
        },
        5000,
      );
      expect(metrics).toMatch(
        new RegExp(`pipe_readings_acknowledged_total\\{[^}]*\\} ${readings.length}\\b`),
      );
      expect(metrics).toContain('pipe_batch_duration_seconds_bucket');
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  it('refuses invalid configuration before connecting, listing every problem', async () => {
    const run = start([
      'run',
      '--redis-url',
      'http://nope',
      '--grace',
      'soon',
      '--keep-hours',
      '-3',
      '--prefix',
      'bad prefix!',
    ]);
    const { code } = await run.exited;
    expect(code).toBe(1);
    const out = run.output();
    for (const field of ['redisUrl', 'grace', 'keepHours', 'prefix']) expect(out).toContain(field);
  });

  it('exits 1 with one line on stderr naming the owner when another group counts the averages', async () => {
    const { keys, flags } = fresh();
    await writeReadings(redis, keys, readingsBetween(base + 2 * HOUR_MS, base + 3 * HOUR_MS, 60_000, 2, 21));
    await drain(keys, { group: 'g1' });
    const second = start(['run', '--drain', '--group', 'g2', ...flags]);
    const { code, stderr } = await second.exited;
    expect(code, second.output()).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `pipe-aggregator: ${keys.averages} is counted by consumer group "g1", not "g2": run with --group g1, ` +
        'or stop the aggregators of "g1" and start once with --take-over to hand it to "g2"',
    ]);
  });

  it('with --drain --adopt-after off exits 3 after --give-up-after with one line on stderr', async () => {
    const { keys, flags } = fresh();
    const from = base + 7 * HOUR_MS;
    await writeReadings(redis, keys, readingsBetween(from, from + HOUR_MS, 60_000, 2, 12));
    const partition = keys.partitionKeyFor(from);
    // A consumer read 30 entries and died before acknowledging them; no reaper runs.
    await redis.xgroup('CREATE', partition, 'aggregator', '0');
    await redis.xreadgroup('GROUP', 'aggregator', 'dead-one', 'COUNT', 30, 'STREAMS', partition, '>');
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
    // The message itself is DrainBlockedError's, tested word for word in drain-pending.test.ts.
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^pipe-aggregator: the drain gave up after 1(\\.\\d)?s waiting for entries pending with consumers not seen for --min-idle \\(0\\.5s\\): ${partition.replaceAll('.', '\\.')} has 30 with "dead-one" .*run the reaper, or drain with --adopt-after$`,
        ),
      ),
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
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
      const from = base + 14 * HOUR_MS;
      const readings = readingsBetween(from, from + 3 * HOUR_MS, 2_000, 4, 14);
      await writeReadings(client, keys, readings);
      const partition = keys.partitionKeyFor(from);
      // Small batches, so that it is in the middle of one when Redis stops answering.
      const live = startAggregator(['run', ...flags, '--consumer', 'live-1', '--count', '20']);
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
      // Counting what it left is the core's part (drain-pending.test.ts); here it shows nothing was lost.
      await drain(keys, { minIdle: 500, adoptAfter: 500 }, { url: server.url });
      await expectAveragesToMatch(client, keys, expectedHours(readings));
      expect(await publishedObservations(client, keys)).toBe(readings.length);
      expect(await new Stream(client, keys.late).length()).toBe(0);
      expect(await new Stream(client, keys.deadLetters).length()).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
