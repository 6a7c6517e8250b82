import { once } from 'node:events';
import { type PipelineKeys, type RedisClient, scanTargets } from '@pipe/streams';

/**
 * Every key of the pipeline under the prefix, as PipelineKeys' `patterns.all` names them (partitions,
 * averages, dead letters, late readings, alerts, viewer positions, the reaper lease, and the companions
 * such as batch ledgers), so that `reset` deletes exactly what the services' keys are, whoever adds one.
 * SCANs every master in cluster mode.
 */
export async function findPipelineKeys(
  redis: RedisClient,
  keys: PipelineKeys,
  readyTimeoutMs = 15_000,
): Promise<string[]> {
  // A cluster client knows its masters only once it has loaded the slots: before that there is nothing to SCAN.
  if (redis.status !== 'ready') await once(redis, 'ready', { signal: AbortSignal.timeout(readyTimeoutMs) });
  const found = new Set<string>();
  for (const node of scanTargets(redis)) {
    for (const pattern of keys.patterns.all) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) found.add(key);
      } while (cursor !== '0');
    }
  }
  return [...found].sort();
}

/** UNLINKs keys one command each (keys of a cluster live in different slots), pipelined by the client. */
export async function deleteKeys(redis: RedisClient, keys: string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const counts = await Promise.all(keys.slice(i, i + 500).map((key) => redis.unlink(key)));
    for (const n of counts) deleted += n;
  }
  return deleted;
}
