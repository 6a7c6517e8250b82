import {
  type AppProcess,
  entriesRead,
  expectAveragesToMatch,
  expectedHours,
  readingsBetween,
  startAggregator,
  writeReadings,
} from '@pipe/fixtures';
import {
  connect,
  DAY_MS,
  HOUR_MS,
  PipelineKeys,
  type Reading,
  type RedisClient,
  Stream,
} from '@pipe/streams';
import { RedisServer, sleep, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const keys = new PipelineKeys();
const base = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
let server: RedisServer | undefined;
let running: AppProcess | undefined;

afterEach(async () => {
  running?.child.kill('SIGKILL');
  await running?.exited;
  await server?.stop();
  server = running = undefined;
});

/** Waits until the group has read at least `fraction` of the readings. */
async function waitForProgress(url: string, total: number, fraction: number, timeoutMs = 30_000) {
  const redis = connect({ url, redis: { maxRetriesPerRequest: 1 } });
  redis.on('error', () => {});
  const partitions = keys.partitionKeysBetween(base, base + 2 * DAY_MS);
  try {
    await waitFor(
      `${fraction * 100}% of ${total} readings read`,
      async () => (await entriesRead(redis, partitions)) >= total * fraction,
      timeoutMs,
      20,
    );
  } finally {
    redis.disconnect();
  }
}

/** The running aggregator (still the same process) publishes every hour of the readings, exactly. */
async function expectLiveRecovery(redis: RedisClient, run: AppProcess, readings: Reading[]) {
  const expected = expectedHours(readings);
  // Stops waiting if the process died: the assertion below then shows its output.
  await waitFor(
    `${expected.length} averages`,
    async () =>
      run.child.exitCode !== null || (await new Stream(redis, keys.averages).length()) >= expected.length,
    30_000,
    200,
  );
  expect(run.child.exitCode, run.output()).toBeNull();
  await expectAveragesToMatch(redis, keys, expected);
}

describe('aggregator under Redis faults', () => {
  it('recovers on its own when a Redis with AOF (everysec) is killed and restarted mid-run, and counts exactly once', async () => {
    server = await RedisServer.start({ aof: 'everysec' });
    const redis = connect({ url: server.url });
    redis.on('error', () => {});
    const readings = readingsBetween(base + 2 * HOUR_MS, base + 2 * HOUR_MS + 30 * HOUR_MS, 5_000, 3, 21);
    await writeReadings(redis, keys, readings);
    await sleep(1500); // past the everysec window: the readings themselves are on disk
    running = startAggregator(['run', '--count', '200', '--block-ms', '200ms', '--redis-url', server.url]);
    await waitForProgress(server.url, readings.length, 0.3);
    // A crash loses at most the last second of the aggregator's scripts; each script is all or nothing
    // in the AOF, so acknowledgements and counts vanish together and the entries are simply read again.
    await server.restart({ signal: 'SIGKILL' });
    const drain = startAggregator(['run', '--drain', '--consumer', 'drainer', '--redis-url', server.url]);
    // The first instance must reconnect and keep working without help.
    await waitForProgress(server.url, readings.length, 1, 60_000);
    const { code } = await drain.exited;
    expect(code, drain.output()).toBe(0);
    expect(running.child.exitCode).toBeNull();
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    expect(await new Stream(redis, keys.late).length()).toBe(0);
    redis.disconnect();
  }, 120_000);

  // Both faults last 10 s; afterwards the same process must pick up new readings and publish every hour.
  it.each([
    {
      name: 'rides out 10 s without Redis (server down, then back with its AOF) without hanging',
      options: { aof: 'always' as const },
      fault: async (s: RedisServer) => {
        await s.kill('SIGKILL');
        await sleep(10_000);
        await s.restart();
      },
    },
    {
      name: 'does not hang when Redis stalls (SIGSTOP) for 10 s, and resumes when it answers again',
      options: {},
      fault: async (s: RedisServer) => {
        process.kill(s.pid!, 'SIGSTOP');
        await sleep(10_000);
        process.kill(s.pid!, 'SIGCONT');
      },
    },
  ])(
    '$name',
    async ({ options, fault }) => {
      server = await RedisServer.start(options);
      const redis = connect({ url: server.url });
      redis.on('error', () => {});
      const first = readingsBetween(base + 5 * HOUR_MS, base + 8 * HOUR_MS, 10_000, 3, 22);
      await writeReadings(redis, keys, first);
      const quick = ['--block-ms', '500ms', '--idle-close', '2s'];
      running = startAggregator(['run', ...quick, '--redis-url', server.url]);
      await waitForProgress(server.url, first.length, 1);
      await fault(server);
      const second = readingsBetween(base + 8 * HOUR_MS, base + 9 * HOUR_MS, 10_000, 3, 23);
      await writeReadings(redis, keys, second);
      await expectLiveRecovery(redis, running, [...first, ...second]);
      redis.disconnect();
    },
    120_000,
  );
});
