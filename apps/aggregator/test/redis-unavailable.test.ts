import {
  type AppProcess,
  appMain,
  entriesRead,
  readingsBetween,
  startAggregator,
  writeReadings,
} from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS, PipelineKeys } from '@pipe/streams';
import { closedPort, giveUpProblems, RedisServer, randomPrefix, runTimed, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const base = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
let server: RedisServer | undefined;
let running: AppProcess | undefined;

afterEach(async () => {
  running?.kill('SIGKILL');
  await running?.exited;
  await server?.stop();
  server = running = undefined;
});

const drain = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runTimed(appMain('aggregator'), ['run', '--drain', ...args], {
    env: { LOG_LEVEL: 'warn', ...env },
    timeoutMs: 25_000,
  });

describe('aggregator run --drain without Redis', () => {
  it('gives up after the default 10 s when nothing listens: exit 3, one line naming the cause', async () => {
    const port = await closedPort();
    const exit = await drain(['--redis-url', `redis://127.0.0.1:${port}`]);
    expect(
      giveUpProblems(exit, {
        line: new RegExp(
          `^pipe-aggregator: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/?: connection refused \\(ECONNREFUSED\\); gave up after 10s$`,
        ),
        withinMs: 15_000,
      }),
    ).toEqual([]);
    // It kept trying for the whole wait rather than failing on the first refusal.
    expect(exit.ms).toBeGreaterThanOrEqual(9_500);
  }, 30_000);

  it('exits 3 at once when Redis refuses the password, and never prints it', async () => {
    server = await RedisServer.start();
    const admin = connect({ url: server.url });
    await admin.config('SET', 'requirepass', 'the-right-one');
    admin.disconnect();
    const exit = await drain(['--redis-url', `redis://:wrong-secret-42@127.0.0.1:${server.port}`], {
      GIVE_UP_AFTER: '30s',
    });
    expect(
      giveUpProblems(exit, {
        line: /^pipe-aggregator: cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: authentication failed \(WRONGPASS .*\)$/,
        withinMs: 5_000,
        secret: 'wrong-secret-42',
      }),
    ).toEqual([]);
  });

  it('exits 3 when Redis goes away mid-drain and stays away for --give-up-after', async () => {
    server = await RedisServer.start();
    const keys = new PipelineKeys(randomPrefix('agg'));
    const redis = connect({ url: server.url });
    redis.on('error', () => {});
    const readings = readingsBetween(base + 2 * HOUR_MS, base + 32 * HOUR_MS, 5_000, 3, 5);
    await writeReadings(redis, keys, readings);
    // Small reads, so the drain is still running when Redis goes.
    const target = ['--redis-url', server.url, '--prefix', keys.prefix];
    running = startAggregator(['run', '--drain', '--count', '20', '--give-up-after', '2s', ...target]);
    const partitions = keys.partitionKeysBetween(base, base + 2 * DAY_MS);
    await waitFor(
      'the drain to read 2000 entries',
      async () => (await entriesRead(redis, partitions)) >= 2_000,
      20_000,
    );
    redis.disconnect();
    expect(running.child.exitCode, running.output()).toBeNull();
    const killed = performance.now();
    await server.kill('SIGKILL');
    const exit = await running.exited;
    expect(
      giveUpProblems(
        { ...exit, ms: performance.now() - killed },
        {
          line: new RegExp(
            `^pipe-aggregator: cannot reach Redis at redis://127\\.0\\.0\\.1:${server.port}/?: .*; gave up after 2s$`,
          ),
          withinMs: 2_000 + 5_000,
        },
      ),
    ).toEqual([]);
  });
});
