import { compareIds, groupsOf, type RedisClient } from '@pipe/streams';

/**
 * The partition the alerter reads now: the oldest with entries its group has not yet applied (never
 * read, pending, or a lag), else the newest (where new readings arrive). One partition at a time keeps
 * each device's readings in the same order in every run, across midnight too, so a crash and a clean
 * run write the same transitions. Undefined when there is no partition.
 */
export async function partitionToRead(
  redis: RedisClient,
  group: string,
  partitions: string[],
): Promise<string | undefined> {
  for (const partition of partitions) {
    if (await hasUnread(redis, group, partition)) return partition;
  }
  return partitions[partitions.length - 1];
}

/** True when the group has not applied every entry of the partition (or cannot tell). */
export async function hasUnread(redis: RedisClient, group: string, partition: string): Promise<boolean> {
  const info = (await groupsOf(redis, partition)).find((g) => g.name === group);
  // No group yet (or no stream any more: XLEN 0): unread when it has entries.
  if (info === undefined) return (await redis.xlen(partition)) > 0;
  if (info.pending > 0 || (info.lag ?? 0) > 0) return true;
  if (info.lag !== null) return false;
  // Redis cannot tell the lag (entries were deleted): compare the last delivered ID with the newest one.
  const [newest] = await redis.xrevrange(partition, '+', '-', 'COUNT', 1);
  return newest !== undefined && compareIds(newest[0], info.lastDeliveredId) > 0;
}
