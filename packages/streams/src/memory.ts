import { type RedisClient, scanTargets } from './redis.js';

/** One master's memory, as `INFO memory` and `INFO stats` report it. */
export interface RedisMemory {
  /** host:port of the master. */
  node: string;
  usedBytes: number;
  /** `maxmemory`; 0 means no limit. */
  maxBytes: number;
  /** `maxmemory-policy`; anything but `noeviction` may delete pipeline keys under memory pressure. */
  policy: string;
  /** Keys evicted since the server started or its stats were reset (`CONFIG RESETSTAT`). */
  evictedKeys: number;
}

const field = (info: string, name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
const count = (info: string, name: string) => Number(field(info, name) ?? Number.NaN);

/**
 * Memory used, its limit, the eviction policy and the keys evicted so far, on every master (one
 * server, or each master of a cluster: each evicts on its own). The one reader of these figures, for
 * the services' checks and metrics as for the status views. INFO is open to every ACL user that may
 * connect (ioredis's ready check needs it).
 */
export async function redisMemory(redis: RedisClient): Promise<RedisMemory[]> {
  return Promise.all(
    scanTargets(redis).map(async (node) => {
      const [memory, stats] = await Promise.all([node.info('memory'), node.info('stats')]);
      return {
        node: `${node.options.host}:${node.options.port}`,
        usedBytes: count(memory, 'used_memory'),
        maxBytes: count(memory, 'maxmemory'),
        policy: field(memory, 'maxmemory_policy') ?? 'unknown',
        evictedKeys: count(stats, 'evicted_keys'),
      };
    }),
  );
}
