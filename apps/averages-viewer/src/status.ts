import { discoverPartitions, groupsOf, type PipelineKeys, type RedisClient } from '@pipe/streams';

export interface GroupHealth {
  name: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
  lastDeliveredId: string;
}

export interface PartitionHealth {
  key: string;
  length: number;
  groups: GroupHealth[];
}

/** The figures an operator checks first: what is waiting, what is stuck, what went wrong. */
export interface PipelineHealth {
  partitions: PartitionHealth[];
  averages: number;
  deadLetters: number;
  late: number;
  alerts: number;
}

/**
 * Reads the pipeline's health: every live partition with its length and its groups (XINFO GROUPS),
 * and the lengths of the averages, dead-letter, late and alert streams. Takes its client and keys as
 * arguments and reads no environment, so the reaper's `status` command can share it once it moves
 * to @pipe/streams.
 */
export async function readPipelineHealth(redis: RedisClient, keys: PipelineKeys): Promise<PipelineHealth> {
  const partitionKeys = await discoverPartitions(redis, keys);
  const [partitions, averages, deadLetters, late, alerts] = await Promise.all([
    Promise.all(partitionKeys.map((key) => readPartition(redis, key))),
    streamLength(redis, keys.averages),
    streamLength(redis, keys.deadLetters),
    streamLength(redis, keys.late),
    streamLength(redis, keys.alerts),
  ]);
  // A partition may expire between discovery and XLEN; a missing stream is no longer live.
  return { partitions: partitions.filter((p) => p !== undefined), averages, deadLetters, late, alerts };
}

async function readPartition(redis: RedisClient, key: string): Promise<PartitionHealth | undefined> {
  const [length, groups] = await Promise.all([streamLength(redis, key), groupsOf(redis, key)]);
  if (length === 0 && groups.length === 0) return undefined;
  return {
    key,
    length,
    groups: groups.map(({ name, consumers, pending, lag, lastDeliveredId }) => ({
      name,
      consumers,
      pending,
      lag,
      lastDeliveredId,
    })),
  };
}

async function streamLength(redis: RedisClient, key: string): Promise<number> {
  return (await redis.call('XLEN', key)) as number;
}
