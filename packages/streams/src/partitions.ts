import type { PipelineKeys } from './keys.js';
import { type RedisClient, mastersOfAllSlots, whenReady } from './redis.js';

/**
 * Live partition keys, oldest day first. SCANs every master (cluster) with the partition pattern and
 * keeps only real `<prefix>:YYYYMMDD` keys, so averages, dead letters and companions never qualify.
 */
export async function discoverPartitions(redis: RedisClient, keys: PipelineKeys): Promise<string[]> {
  await whenReady(redis);
  const found = new Set<string>();
  for (const node of mastersOfAllSlots(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(
        cursor,
        'MATCH',
        keys.partitionScanPattern,
        'COUNT',
        1000,
        'TYPE',
        'stream',
      );
      cursor = next;
      for (const key of batch) if (keys.isPartitionKey(key)) found.add(key);
    } while (cursor !== '0');
  }
  return [...found].sort(
    (a, b) => keys.parsePartitionKey(a) - keys.parsePartitionKey(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
}
