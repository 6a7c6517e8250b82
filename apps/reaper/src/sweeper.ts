import {
  compareIds,
  ConsumerGroup,
  DELIVERED_TOO_OFTEN,
  deadLetterPending,
  defineLuaCommand,
  discoverPartitions,
  type Durability,
  forwardOutbox,
  groupsOf,
  type JudgedConsumer,
  judgeConsumers,
  type Logger,
  type PendingEntry,
  type GroupInfo,
  partitionIntegrity,
  type PipelineKeys,
  type RedisClient,
  Stream,
} from '@pipe/streams';
import { ClaimMemory } from './claim-memory.js';

const DELETE_IDLE_CONSUMER_LUA = new URL('./lua/delete-idle-consumer-1.lua', import.meta.url);
/** IDs logged per line when listing deleted or dead-lettered entries. */
const LOGGED_IDS = 20;
/** A partition with uncounted readings that expires within this is reported (see checkPartition). */
const EXPIRY_WARNING_MS = 3_600_000;

export interface SweepPolicy {
  minIdleMs: number;
  maxDeliveries: number;
  consumerTtlMs: number;
  liveWithinMs: number;
  /** XPENDING / XAUTOCLAIM COUNT per call. */
  pageSize?: number;
  /** --wait-replicas: the dead-letter stream's replicas hold a letter before it leaves the outbox. */
  durability?: Durability;
}

export interface SweepSummary {
  partitions: number;
  groups: number;
  /** Entries claimed to a live consumer. */
  reclaimed: number;
  /** Entries moved to the dead-letter stream. */
  deadLettered: number;
  /** Pending IDs whose entries had been deleted or trimmed (dropped from the PEL). */
  deletedIds: number;
  /** Entries delivered more than once, kept with their owner until a live consumer is free for each. */
  heldBack: number;
  /** Idle entries left in place because their group had no live consumer. */
  awaitingLiveConsumer: number;
  consumersRemoved: number;
  /** Entries removed from live partitions by someone other than pipe (XDEL, XTRIM, MAXLEN): lost. */
  removedEntries: number;
  /** Uncounted entries of partitions that expire within the hour. */
  expiringUncounted: number;
  /** Groups whose sweep failed (logged); the next sweep tries them again. */
  failedGroups: number;
  durationMs: number;
  /** False when the sweep stopped early (stop, or the lease was lost). */
  complete: boolean;
}

/** What a PEL scan leaves to claim: entries delivered once, and suspects delivered more often. */
interface StalePending {
  fresh: number;
  suspects: PendingEntry[];
  /** Consumers holding stale entries: not working their PEL, so not fit to be handed more. */
  owners: Set<string>;
}

export interface SweeperDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
}

function emptySummary(): SweepSummary {
  return {
    partitions: 0,
    groups: 0,
    reclaimed: 0,
    deadLettered: 0,
    deletedIds: 0,
    heldBack: 0,
    awaitingLiveConsumer: 0,
    consumersRemoved: 0,
    removedEntries: 0,
    expiringUncounted: 0,
    failedGroups: 0,
    durationMs: 0,
    complete: true,
  };
}

/**
 * One pass of the reaper over every consumer group of every live partition: dead-letters entries
 * delivered too often, claims the other stale entries to a live consumer of their group, and deletes
 * consumers that are long gone and hold nothing.
 */
export class Sweeper {
  private readonly memory = new ClaimMemory();
  /** Per partition: removed entries already reported, and the expiry last warned about. */
  private reportedRemovals = new Map<string, number>();
  private reportedExpiries = new Map<string, number>();
  private readonly pageSize: number;

  constructor(
    private readonly deps: SweeperDeps,
    private readonly policy: SweepPolicy,
  ) {
    this.pageSize = policy.pageSize ?? 1000;
  }

  /** Sweeps everything; `proceed` is asked between steps, so a stop or a lost lease ends it early. */
  async sweep(proceed: () => boolean = () => true): Promise<SweepSummary> {
    const started = Date.now();
    const summary = emptySummary();
    const partitions = await discoverPartitions(this.deps.redis, this.deps.keys);
    summary.partitions = partitions.length;
    for (const stream of partitions) {
      // Letters left in the outbox by a reaper killed between dead-lettering and forwarding (the
      // aggregator forwards them too, but may not be running).
      if (proceed())
        await forwardOutbox(this.deps.redis, stream, {
          only: [this.deps.keys.deadLetters],
          durability: this.policy.durability,
        });
      const groups = await groupsOf(this.deps.redis, stream);
      if (proceed()) await this.checkPartition(stream, groups, summary);
      for (const group of groups) {
        if (!proceed()) break;
        summary.groups++;
        try {
          await this.sweepGroup(stream, group.name, summary, proceed);
        } catch (err) {
          // One group's trouble (its partition expired meanwhile, a group destroyed) spares the others.
          summary.failedGroups++;
          this.deps.log.warn(
            { err, stream, group: group.name },
            'sweeping a group failed; the next sweep retries',
          );
        }
      }
    }
    summary.complete = proceed();
    summary.durationMs = Date.now() - started;
    if (summary.complete) {
      const live = new Set(partitions);
      for (const reported of [this.reportedRemovals, this.reportedExpiries])
        for (const stream of reported.keys()) if (!live.has(stream)) reported.delete(stream);
    }
    return summary;
  }

  /**
   * Reports what ACLs cannot refuse (see partitionIntegrity): readings removed from a partition, and a
   * partition about to expire with readings no aggregator has counted (an expiry lowered by hand, or no
   * aggregator running within --retention). Each is logged once, again when it grows or changes.
   */
  private async checkPartition(stream: string, groups: GroupInfo[], summary: SweepSummary): Promise<void> {
    const { redis, log } = this.deps;
    let info: Awaited<ReturnType<Stream['info']>>;
    let expiresAt: number;
    try {
      [info, expiresAt] = await Promise.all([
        new Stream(redis, stream).info(),
        redis.call('PEXPIRETIME', stream) as Promise<number>,
      ]);
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return; // expired meanwhile
      throw err;
    }
    const { removedEntries, uncounted } = partitionIntegrity(info, groups);
    summary.removedEntries += removedEntries;
    if (removedEntries > (this.reportedRemovals.get(stream) ?? 0)) {
      log.error(
        { stream, removed: removedEntries, maxDeletedEntryId: info.maxDeletedEntryId },
        'readings were removed from a partition (pipe never removes readings: XDEL, XTRIM or XADD MAXLEN/MINID by another client); they are lost',
      );
    }
    this.reportedRemovals.set(stream, removedEntries);
    const expiresInMs = expiresAt - Date.now();
    if (expiresAt >= 0 && uncounted > 0 && expiresInMs < EXPIRY_WARNING_MS) {
      summary.expiringUncounted += uncounted;
      if (this.reportedExpiries.get(stream) !== expiresAt) {
        this.reportedExpiries.set(stream, expiresAt);
        log.warn(
          { stream, uncounted, expiresInMs },
          'a partition expires before its readings are counted (is an aggregator running? was its expiry lowered?)',
        );
      }
    }
  }

  private async sweepGroup(
    stream: string,
    group: string,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<void> {
    const stale = await this.scanPending(stream, group, summary, proceed);
    if ((stale.fresh > 0 || stale.suspects.length > 0) && proceed())
      await this.claimPass(stream, group, stale, summary, proceed);
    if (proceed()) await this.removeIdleConsumers(stream, group, summary);
  }

  /**
   * Walks the PEL's entries idle at least min-idle (XPENDING IDLE, extended form): dead-letters those
   * delivered max-deliveries times, counts the fresh ones (delivered once) and returns the suspects
   * (delivered more than once: the batch they were in already failed).
   */
  private async scanPending(
    stream: string,
    group: string,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<StalePending> {
    const { redis, keys, log } = this.deps;
    const consumerGroup = new ConsumerGroup(redis, group, [stream]);
    const stale: StalePending = { fresh: 0, suspects: [], owners: new Set() };
    let start = '-';
    for (;;) {
      const page = await consumerGroup.pending(stream, {
        start,
        count: this.pageSize,
        idle: this.policy.minIdleMs,
      });
      const poison: string[] = [];
      for (const p of page) {
        stale.owners.add(p.consumer);
        if (p.deliveries >= this.policy.maxDeliveries) poison.push(p.id);
        else if (p.deliveries > 1) stale.suspects.push(p);
        else stale.fresh++;
      }
      if (poison.length > 0) {
        const outcome = await deadLetterPending(redis, keys.deadLetters, {
          stream,
          group,
          ids: poison,
          minIdleMs: this.policy.minIdleMs,
          minDeliveries: this.policy.maxDeliveries,
          reason: DELIVERED_TOO_OFTEN,
          durability: this.policy.durability,
        });
        summary.deadLettered += outcome.deadLettered.length;
        if (outcome.deadLettered.length > 0) {
          log.warn(
            {
              stream,
              group,
              count: outcome.deadLettered.length,
              ids: outcome.deadLettered.slice(0, LOGGED_IDS),
            },
            'dead-lettered entries delivered too often',
          );
        }
        this.countDeleted(stream, group, outcome.gone, summary);
      }
      if (page.length < this.pageSize || !proceed()) return stale;
      start = `(${page[page.length - 1]!.id}`;
    }
  }

  /**
   * Hands stale entries to live consumers. Suspects go one at a time to a live consumer that holds
   * nothing else, so a poison entry can only fail its own delivery, not those of the entries read in
   * the same batch (which would otherwise reach max-deliveries with it); the suspects not handed out
   * are held back with their owner (claimed to it again, which resets their idle time) until a later
   * sweep. Fresh entries are claimed in bulk: XAUTOCLAIM (JUSTID) from `0-0` until the cursor returns
   * to `0-0`, each page to the live consumer with the fewest pending entries. JUSTID leaves delivery
   * counts alone: the consumer's own re-read of its PEL is the delivery that counts.
   */
  private async claimPass(
    stream: string,
    group: string,
    stale: StalePending,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<void> {
    const { redis, log } = this.deps;
    const scope = `${stream}\u0000${group}`;
    const consumers = await judgeConsumers(redis, stream, group, this.policy.liveWithinMs, {
      lastSeen: (c, readAt) => this.memory.lastSeen(scope, c.name, c.idleMs, readAt),
    });
    // A live ConsumerLoop re-reads its PEL every pendingCheckMs, so a consumer with entries idle past
    // min-idle is not working them (it died moments ago, or hangs) whatever its idle time says.
    const live = consumers.filter((c) => c.live && !stale.owners.has(c.name));
    if (live.length === 0) {
      summary.awaitingLiveConsumer += stale.fresh + stale.suspects.length;
      log.warn(
        { stream, group, stale: stale.fresh + stale.suspects.length },
        'no live consumer to claim stale entries for',
      );
      return;
    }
    const claimedTo = new Map<string, number>();
    const noteClaim = (consumer: JudgedConsumer, count: number) => {
      this.memory.recordClaim(scope, consumer.name, Date.now(), consumer.lastSeenAt);
      consumer.pending += count;
    };

    // Most delivered first: after a crash loop that is the likeliest culprit, dead-lettered soonest.
    const suspects = [...stale.suspects].sort(
      (a, b) => b.deliveries - a.deliveries || compareIds(a.id, b.id),
    );
    const idleTargets = live.filter((c) => c.pending === 0);
    const isolated = new Set<string>();
    for (const [i, target] of idleTargets.entries()) {
      const suspect = suspects[i];
      if (!suspect) break;
      const claimed = await this.claimIds(stream, group, target.name, [suspect.id], summary);
      if (claimed.length > 0) {
        noteClaim(target, claimed.length);
        isolated.add(target.name);
        summary.reclaimed += claimed.length;
        claimedTo.set(target.name, (claimedTo.get(target.name) ?? 0) + claimed.length);
      }
    }
    const heldBack = suspects.slice(isolated.size);
    const owners = new Map<string, string[]>();
    for (const p of heldBack) owners.set(p.consumer, [...(owners.get(p.consumer) ?? []), p.id]);
    for (const [owner, ids] of owners) {
      const claimed = await this.claimIds(stream, group, owner, ids, summary);
      const judged = consumers.find((c) => c.name === owner);
      if (judged && claimed.length > 0) noteClaim(judged, 0);
      summary.heldBack += claimed.length;
    }
    if (heldBack.length > 0)
      log.info({ stream, group, count: heldBack.length }, 'held back entries delivered more than once');

    const bulkTargets = live.filter((c) => !isolated.has(c.name));
    if (stale.fresh > 0 && bulkTargets.length === 0) summary.awaitingLiveConsumer += stale.fresh;
    let cursor = '0-0';
    while (stale.fresh > 0 && bulkTargets.length > 0 && proceed()) {
      const target = leastPending(bulkTargets);
      const { next, ids, deleted } = await new ConsumerGroup(redis, group, [stream], target.name).autoclaim(
        stream,
        { minIdle: this.policy.minIdleMs, start: cursor, count: this.pageSize, justId: true },
      );
      cursor = next;
      if (ids.length > 0) {
        noteClaim(target, ids.length);
        claimedTo.set(target.name, (claimedTo.get(target.name) ?? 0) + ids.length);
        summary.reclaimed += ids.length;
      }
      this.countDeleted(stream, group, deleted, summary);
      if (cursor === '0-0') break;
    }
    for (const [consumer, count] of claimedTo)
      log.info({ stream, group, consumer, count }, 'claimed stale entries');
  }

  /** XCLAIM (JUSTID, still idle at least min-idle) of given IDs; deleted entries' IDs are counted. */
  private async claimIds(
    stream: string,
    group: string,
    consumer: string,
    ids: string[],
    summary: SweepSummary,
  ): Promise<string[]> {
    const { claimed, deleted } = await new ConsumerGroup(this.deps.redis, group, [stream], consumer).claimIds(
      stream,
      ids,
      { minIdle: this.policy.minIdleMs },
    );
    this.countDeleted(stream, group, deleted, summary);
    return claimed;
  }

  private countDeleted(stream: string, group: string, ids: string[], summary: SweepSummary): void {
    if (ids.length === 0) return;
    summary.deletedIds += ids.length;
    this.deps.log.warn(
      { stream, group, count: ids.length, ids: ids.slice(0, LOGGED_IDS) },
      'pending entries no longer in stream',
    );
  }

  /** Deletes consumers idle longer than consumer-ttl that hold nothing; the check and delete are one script. */
  private async removeIdleConsumers(stream: string, group: string, summary: SweepSummary): Promise<void> {
    const { redis, log } = this.deps;
    const consumers = await new ConsumerGroup(redis, group, [stream]).consumers(stream);
    const deleteIfIdle = defineLuaCommand(redis, 'pipeDeleteIdleConsumer', DELETE_IDLE_CONSUMER_LUA);
    for (const c of consumers) {
      if (c.idleMs <= this.policy.consumerTtlMs) continue;
      if (c.pending > 0) {
        log.debug(
          { stream, group, consumer: c.name, pending: c.pending },
          'idle consumer still holds entries; kept',
        );
        continue;
      }
      if ((await deleteIfIdle([stream], [group, c.name, this.policy.consumerTtlMs])) === 1) {
        summary.consumersRemoved++;
        this.memory.forget(`${stream}\u0000${group}`, c.name);
        log.info({ stream, group, consumer: c.name, idleMs: c.idleMs }, 'removed idle consumer');
      }
    }
  }
}

function leastPending(live: JudgedConsumer[]): JudgedConsumer {
  return live.reduce((best, c) => (c.pending < best.pending ? c : best));
}
