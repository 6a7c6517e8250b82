import { ConsumerGroup, type ConsumerInfo, groupsOf } from './consumer-group.js';
import type { PipelineKeys } from './keys.js';
import { type RedisMemory, redisMemory } from './memory.js';
import { partitionIntegrity } from './partition-integrity.js';
import { discoverPartitions } from './partitions.js';
import type { RedisClient } from './redis.js';
import { Stream } from './stream.js';

export interface GroupStatus {
  name: string;
  consumers: ConsumerInfo[];
  pending: number;
  /** The smallest pending ID and how long it has been idle; null when nothing is pending. */
  oldestPendingId: string | null;
  oldestPendingIdleMs: number | null;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
  entriesRead: number | null;
  lastDeliveredId: string;
}

export interface PartitionStatus {
  key: string;
  length: number;
  /** PTTL: ms left, -1 without expiry. */
  ttlMs: number;
  /** PEXPIRETIME: absolute expiry in ms, null without expiry. */
  expiresAt: number | null;
  firstId: string | null;
  lastId: string | null;
  /** Entries removed by someone other than pipe (see partitionIntegrity): readings lost. */
  removedEntries: number;
  /** Entries the counting group has not counted yet. */
  uncounted: number;
  groups: GroupStatus[];
}

/** What an operator checks first: what is waiting, what is stuck, what went wrong. */
export interface PipelineStatus {
  at: number;
  /** The active reaper (lease holder) and the lease's remaining ms; null when no reaper holds it. */
  reaperLease: { holder: string; ttlMs: number } | null;
  partitions: PartitionStatus[];
  deadLetters: number;
  late: number;
  alerts: number;
  averages: number;
  /** Memory used, its limit, the eviction policy and keys evicted, per master. */
  memory: RedisMemory[];
}

/**
 * Reads the pipeline's state: every live partition (length, expiry, first and last ID) with its groups
 * (consumers, pending, oldest pending, lag — null-safe), the side streams' sizes, the reaper lease and
 * each master's memory (what eviction would take the partitions from).
 * Shared by the reaper's `status` command and the viewer's health panel.
 */
export async function pipelineStatus(redis: RedisClient, keys: PipelineKeys): Promise<PipelineStatus> {
  const partitions: PartitionStatus[] = [];
  for (const key of await discoverPartitions(redis, keys)) {
    const stream = new Stream(redis, key);
    const [info, ttlMs, expireTime] = await Promise.all([
      stream.info(),
      stream.ttl(),
      redis.call('PEXPIRETIME', key) as Promise<number>,
    ]);
    const groups: GroupStatus[] = [];
    const groupInfos = await groupsOf(redis, key);
    for (const g of groupInfos) {
      const group = new ConsumerGroup(redis, g.name, [key]);
      const [consumers, [oldest]] = await Promise.all([
        group.consumers(key),
        group.pending(key, { count: 1 }),
      ]);
      groups.push({
        name: g.name,
        consumers,
        pending: g.pending,
        oldestPendingId: oldest?.id ?? null,
        oldestPendingIdleMs: oldest?.idleMs ?? null,
        lag: g.lag,
        entriesRead: g.entriesRead,
        lastDeliveredId: g.lastDeliveredId,
      });
    }
    partitions.push({
      key,
      length: info.length,
      ttlMs,
      expiresAt: expireTime >= 0 ? expireTime : null,
      firstId: info.firstEntry?.id ?? null,
      lastId: info.lastEntry?.id ?? null,
      ...partitionIntegrity(info, groupInfos),
      groups,
    });
  }
  const length = (k: string) => new Stream(redis, k).length();
  const [deadLetters, late, alerts, averages] = await Promise.all([
    length(keys.deadLetters),
    length(keys.late),
    length(keys.alerts),
    length(keys.averages),
  ]);
  const [holder, leaseTtl, memory] = await Promise.all([
    redis.get(keys.reaperLease),
    redis.pttl(keys.reaperLease),
    redisMemory(redis),
  ]);
  const reaperLease = holder === null ? null : { holder, ttlMs: leaseTtl };
  return { at: Date.now(), reaperLease, partitions, deadLetters, late, alerts, averages, memory };
}
