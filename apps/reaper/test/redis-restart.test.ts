import { connect, PipelineKeys } from '@pipe/streams';
import { RedisServer, randomPrefix, sleep, waitFor } from '@pipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addReadings, pendingByConsumer } from './helpers.js';
import { runReaperInProcess } from './in-process.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describe('when its Redis server restarts', () => {
  it('takes the lease again and goes on reclaiming', async () => {
    const prefix = randomPrefix('restart');
    const keys = new PipelineKeys(prefix);
    const redis = connect({ url: server.url });
    redis.on('error', () => {}); // refused while the server restarts; commands retry
    // Its own connection, as `pipe-reaper run` has: the test's commands cannot queue behind its sweeps.
    const reaperRedis = connect({ url: server.url });
    reaperRedis.on('error', () => {});
    const reaper = runReaperInProcess(reaperRedis, keys, {
      holder: 'restarted',
      minIdleMs: 500,
      liveWithinMs: 1000,
      intervalMs: 200,
      leaseTtlMs: 1000,
    });
    try {
      await waitFor('the lease', async () => (await redis.get(keys.reaperLease)) !== null);
      await server.restart({ downMs: 500 });
      // No persistence: the lease and everything else are gone with the old process.
      await waitFor(
        'the lease taken again',
        async () => (await redis.get(keys.reaperLease).catch(() => null)) !== null,
        10_000,
      );

      const partition = keys.partitionKeyFor(Date.now());
      await addReadings(redis, partition, 20);
      await redis.xgroup('CREATE', partition, 'g', '0');
      await redis.xreadgroup('GROUP', 'g', 'dead', 'STREAMS', partition, '>');
      await redis.xgroup('CREATECONSUMER', partition, 'g', 'live');
      await sleep(1100);
      const keepAlive = setInterval(
        () => void redis.xreadgroup('GROUP', 'g', 'live', 'COUNT', 1, 'STREAMS', partition, '0'),
        100,
      );
      try {
        await waitFor(
          'the entries claimed to the live consumer',
          async () => (await pendingByConsumer(redis, partition, 'g')).live === 20,
        );
      } finally {
        clearInterval(keepAlive);
      }
      expect(reaper.events.filter((e) => e.msg === 'lease acquired; sweeping').length).toBe(2);
      await reaper.reaper.stop();
      expect(await redis.get(keys.reaperLease)).toBeNull();
    } finally {
      await reaper.reaper.stop();
      reaperRedis.disconnect();
      redis.disconnect();
    }
  });
});
