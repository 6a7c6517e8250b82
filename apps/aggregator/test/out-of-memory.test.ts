import {
  expectAveragesToMatch,
  expectedHours,
  readingsBetween,
  startAggregator,
  writeReadings,
} from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS, PipelineKeys, type RedisClient } from '@pipe/streams';
import { randomPrefix, RedisServer } from '@pipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let server: RedisServer;
let redis: RedisClient;

beforeAll(async () => {
  server = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction'] });
  redis = connect({ url: server.url });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

it('a drain that runs out of memory gives up with one line and exit 3; after memory is raised it completes exactly', async () => {
  const prefix = randomPrefix('oom');
  const keys = new PipelineKeys(prefix);
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 3 * HOUR_MS;
  const readings = readingsBetween(from, from + 6 * HOUR_MS, 5_000, 4, 61);
  await writeReadings(redis, keys, readings);
  // Room for a little state, not for the consumer group's pending entries of 20,000 readings.
  await redis.config('SET', 'maxmemory', String((await usedMemory()) + 20_000));
  const flags = ['run', '--drain', '--redis-url', server.url, '--prefix', prefix, '--give-up-after', '2s'];

  const started = Date.now();
  const full = startAggregator(flags);
  const { code } = await full.exited;
  expect(code, full.output()).toBe(3);
  expect(Date.now() - started).toBeLessThan(15_000);
  const lines = full.stderr().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^pipe-aggregator: the drain gave up after 2000 ms of failures: OOM/);

  await redis.config('SET', 'maxmemory', '0');
  const again = startAggregator(flags);
  expect((await again.exited).code, again.output()).toBe(0);
  await expectAveragesToMatch(redis, keys, expectedHours(readings));
});
