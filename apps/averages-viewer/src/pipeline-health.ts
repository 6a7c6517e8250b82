import { type PipelineKeys, pipelineStatus, type RedisClient, type RedisMemory } from '@pipe/streams';

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

/** The figures the dashboard's health panel shows. */
export interface PipelineHealth {
  partitions: PartitionHealth[];
  averages: number;
  deadLetters: number;
  late: number;
  alerts: number;
  /** Per master: memory used, maxmemory (0: no limit), the eviction policy, keys evicted so far. */
  memory: RedisMemory[];
}

/** The dashboard's view of the library's pipeline status (the same figures the reaper's `status` prints). */
export async function readPipelineHealth(redis: RedisClient, keys: PipelineKeys): Promise<PipelineHealth> {
  const status = await pipelineStatus(redis, keys);
  return {
    partitions: status.partitions.map((p) => ({
      key: p.key,
      length: p.length,
      groups: p.groups.map((g) => ({
        name: g.name,
        consumers: g.consumers.length,
        pending: g.pending,
        lag: g.lag,
        lastDeliveredId: g.lastDeliveredId,
      })),
    })),
    averages: status.averages,
    deadLetters: status.deadLetters,
    late: status.late,
    alerts: status.alerts,
    memory: status.memory,
  };
}
