import { groupsOf, type PipelineKeys, type RedisClient, Stream } from '@pipe/streams';
import type { AggregatorStateKeys } from './state-keys.js';

/** Where the group stands on one partition. */
export interface PartitionProgress {
  partition: string;
  /** UTC midnight of the partition's day. */
  day: number;
  /** Newest event time counted from the partition, or undefined before the first. */
  maxts: number | undefined;
  /** Everything in the partition was delivered to the group (some may still be pending). */
  delivered: boolean;
  /** Delivered and acknowledged: nothing left to do here. */
  caughtUp: boolean;
  /** Entries read by some consumer of the group and not acknowledged yet. */
  pending: number;
}

export async function readProgress(
  redis: RedisClient,
  keys: PipelineKeys,
  state: AggregatorStateKeys,
  group: string,
  partitions: string[],
): Promise<PartitionProgress[]> {
  return Promise.all(
    partitions.map(async (partition) => {
      const [maxts, groups] = await Promise.all([
        redis.hget(state.aggHash(partition), 'maxts'),
        groupsOf(redis, partition),
      ]);
      const g = groups.find((x) => x.name === group);
      let delivered = g !== undefined && g.lag === 0;
      if (g && g.lag === null) {
        // Lag is unknown after deletions: compare positions instead.
        delivered = (await new Stream(redis, partition).info()).lastGeneratedId === g.lastDeliveredId;
      }
      return {
        partition,
        day: keys.parsePartitionKey(partition),
        maxts: maxts === null ? undefined : Number(maxts),
        delivered,
        caughtUp: delivered && g !== undefined && g.pending === 0,
        pending: g?.pending ?? 0,
      };
    }),
  );
}

/**
 * Stream time: the newest event time counted anywhere, held back by every partition that still has
 * undelivered entries (to what that partition has reached, at least its own midnight). So a backfill
 * that reads ten days at once does not declare day one's hours over because day ten was read.
 */
export function watermarkOf(progress: PartitionProgress[]): number {
  let watermark = 0;
  for (const p of progress) watermark = Math.max(watermark, p.maxts ?? 0);
  for (const p of progress) {
    if (!p.delivered) watermark = Math.min(watermark, Math.max(p.maxts ?? 0, p.day));
  }
  return watermark;
}
