import type { GroupInfo } from './consumer-group.js';
import type { StreamInfo } from './stream.js';

/**
 * What tells that someone other than pipe changed a partition. pipe never deletes a reading from a
 * partition (the producer only adds, the aggregator only acknowledges), but Redis ACLs cannot refuse
 * the arguments of a command a user may run: the producer's user needs XADD and PEXPIREAT for its own
 * function, so a leaked producer credential can still `XADD … MAXLEN 0` or expire a partition early.
 * Neither can be refused; both can be seen, and the reaper reports them on every sweep.
 */
export interface PartitionIntegrity {
  /** Entries removed from the partition since it was created (XADD MAXLEN/MINID, XTRIM, XDEL). */
  removedEntries: number;
  /** Entries the busiest group has not yet counted: undelivered plus pending (all, without a group). */
  uncounted: number;
}

/** From XINFO STREAM (Redis 7: `entries-added`) and XINFO GROUPS of one partition. */
export function partitionIntegrity(info: StreamInfo, groups: GroupInfo[]): PartitionIntegrity {
  const removedEntries = info.entriesAdded === null ? 0 : Math.max(0, info.entriesAdded - info.length);
  // The group that counts the averages is the one that read furthest (a group left behind by a
  // --take-over is destroyed); lag is null after deletions, then everything after its position counts.
  let uncounted = info.length;
  for (const g of groups) {
    const undelivered = g.lag ?? (g.lastDeliveredId === info.lastGeneratedId ? 0 : info.length);
    uncounted = Math.min(uncounted, undelivered + g.pending);
  }
  return { removedEntries, uncounted };
}
