import { RedisCluster, RedisServer, waitFor } from '@pipe/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionEpoch, NotReplicatedError, waitForReplicas } from '../src/index.js';

describe('waitForReplicas on one server', () => {
  let master: RedisServer;
  let replica: RedisServer;
  beforeAll(async () => {
    master = await RedisServer.start();
    replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    // The first WAIT must not race the replica's initial full sync: on a loaded machine that alone
    // can take longer than the test's WAIT timeout.
    const probe = new Redis(replica.url);
    try {
      await waitFor('the replica to finish its initial sync', async () =>
        (await probe.info('replication')).includes('master_link_status:up'),
      );
    } finally {
      probe.disconnect();
    }
  }, 30_000);
  afterAll(async () => {
    await replica.stop();
    await master.stop();
  });

  it('returns once the replica holds the write, and fails (retryably) when fewer replicas answer', async () => {
    const redis = new Redis(master.url);
    const onReplica = new Redis(replica.url);
    try {
      await redis.set('k', 'v1');
      await waitForReplicas(redis, 'k', { replicas: 1, timeoutMs: 5000 });
      expect(await onReplica.get('k')).toBe('v1');
      await waitForReplicas(redis, 'k', { replicas: 0, timeoutMs: 1 });

      const err = await waitForReplicas(redis, 'k', { replicas: 2, timeoutMs: 200 }).catch((e) => e);
      expect(err).toBeInstanceOf(NotReplicatedError);
      expect(err).toMatchObject({ code: 'NOT_REPLICATED', retryable: true });
      expect(err.message).toBe('k: 1 of 2 replicas acknowledged the write within 200 ms');

      // A WAIT on a connection made after the write cannot vouch for it: a reconnect in between fails it.
      const since = connectionEpoch(redis);
      await redis.set('k', 'v2');
      const ready = new Promise((resolve) => redis.once('ready', resolve));
      redis.disconnect(true);
      await ready;
      await expect(
        waitForReplicas(redis, 'k', { replicas: 1, timeoutMs: 5000 }, since),
      ).rejects.toMatchObject({
        code: 'NOT_REPLICATED',
        retryable: true,
      });
      await waitForReplicas(redis, 'k', { replicas: 1, timeoutMs: 5000 }, connectionEpoch(redis));
    } finally {
      redis.disconnect();
      onReplica.disconnect();
    }
  }, 20_000);
});

describe('waitForReplicas on a cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it("waits on the master of the key's slot, which a failover hands to a replica holding the write", async () => {
    const redis = new Cluster(
      cluster.seeds.split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
    );
    redis.on('error', () => {});
    try {
      for (const key of ['a', 'b', 'c']) {
        await redis.set(key, key);
        await waitForReplicas(redis, key, { replicas: 1, timeoutMs: 5000 });
      }
      // What WAIT confirmed survives the master's death.
      const since = connectionEpoch(redis);
      const promoted = await cluster.failMasterOf('a');
      const direct = new Redis(promoted.url);
      expect(await direct.get('a')).toBe('a');
      direct.disconnect();
      // A WAIT taken across the failover cannot vouch for a write sent before it.
      await expect(waitForReplicas(redis, 'a', { replicas: 1, timeoutMs: 300 }, since)).rejects.toMatchObject(
        {
          code: 'NOT_REPLICATED',
        },
      );
      // The promoted master has no replica left: a write there cannot be confirmed.
      await redis.set('a', 'again');
      await expect(waitForReplicas(redis, 'a', { replicas: 1, timeoutMs: 300 })).rejects.toBeInstanceOf(
        NotReplicatedError,
      );
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
