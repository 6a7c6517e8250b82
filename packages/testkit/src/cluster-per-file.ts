import { afterAll, beforeAll } from 'vitest';
import { RedisCluster } from './redis-cluster.js';

/** A cluster's servers and a client of it, there from the calling file's beforeAll to its afterAll. */
export interface ClusterPerFile<Client> {
  readonly servers: RedisCluster;
  readonly redis: Client;
}

/**
 * A Redis Cluster of `masters` masters for the calling test file, started before its tests and stopped
 * after them, with a client made by `connectTo` from the seeds (`host:port`); the test kit knows no
 * Redis client library, so the caller brings its own.
 */
export function clusterPerFile<Client extends { disconnect(): void }>(
  connectTo: (seeds: string[]) => Client,
  masters = 3,
): ClusterPerFile<Client> {
  let cluster: RedisCluster | undefined;
  let redis: Client | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start(masters);
    redis = connectTo(cluster.seeds.split(','));
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the cluster starts in beforeAll: use it inside a test or hook');
    return value;
  };
  return {
    get servers() {
      return started(cluster);
    },
    get redis() {
      return started(redis);
    },
  };
}
