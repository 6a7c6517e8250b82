import {
  ConsumerGroup,
  DELIVERED_TOO_OFTEN,
  deadLetterPending,
  judgeConsumers,
  type Durability,
  type Logger,
  type PendingEntry,
  type PipelineKeys,
  type RedisClient,
} from '@pipe/streams';
import type { AggregatorMetrics } from './metrics.js';

/** How often a blocked drain looks at who holds the pending entries (XINFO CONSUMERS per partition). */
const CHECK_MS = 500;
/** How often it says what it is waiting for. */
export const REPORT_MS = 5000;
/** XPENDING page when adopting. */
const PAGE = 1000;
/** Holders named in the line a drain that gives up prints. */
const NAMED = 5;
/** IDs logged per line. */
const LOGGED_IDS = 20;

export interface DeadConsumerPolicy {
  group: string;
  /** The drain's own consumer: its loop reads its own pending entries again, nothing to wait for. */
  consumer: string;
  /** A consumer not seen (XINFO CONSUMERS idle) this long is dead; its entries must be idle this long too. */
  minIdleMs: number;
  /** Wait this long for a dead consumer before adopting its entries; `off`: give up instead. */
  adoptAfterMs: number | 'off';
  /** With `off`: how long a dead consumer may hold the drain up before it gives up. */
  giveUpAfterMs: number;
  /** --wait-replicas: the dead-letter stream's replicas hold a letter before it leaves the outbox. */
  durability?: Durability;
  /** Entries delivered this often go to the dead-letter stream instead of being adopted. */
  maxDeliveries: number;
}

export interface DeadConsumerDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  metrics?: AggregatorMetrics;
}

/** Someone other than the drain holding pending entries of a partition. */
export interface Holder {
  partition: string;
  consumer: string;
  pending: number;
  idleMs: number;
  /**
   * How long (the drain's clock, across its checks) the longest-held of its entries has stayed pending
   * with it unchanged: same ID, same delivery count.
   */
  unchangedMs: number;
  /** Seen within --min-idle, and none of its entries unchanged for --min-idle. */
  live: boolean;
}

/** A pending entry as the drain saw it, and since when (its clock) it has seen it so. */
interface Sighting {
  deliveries: number;
  since: number;
}

/** A drain held up by dead consumers for --give-up-after with --adopt-after off. */
export class DrainBlockedError extends Error {
  override readonly name = 'DrainBlockedError';
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;

/**
 * What a drain does while entries it cannot read are pending with other consumers of its group (they
 * hold their hours' seals back, so the drain cannot end):
 *
 * - a consumer seen within --min-idle is live (an aggregator with a batch in hand): the drain waits,
 *   and says so at info every 5 s once it has waited that long;
 * - a consumer not seen for --min-idle is dead (killed, or hung), and so is one that is seen but leaves
 *   an entry pending unchanged (same ID, same delivery count) for --min-idle on the drain's own clock,
 *   across its checks: a working ConsumerLoop re-reads its own pending entries every --pending-check
 *   (which counts a delivery) and acknowledges them, while XINFO's idle alone can be kept low by others
 *   (a reaper claiming suspects back to their owner resets the owner's idle time, and the entries' too).
 *   The drain warns at once and every 5 s,
 *   naming partition, consumer, pending count and idle time. After --adopt-after it adopts the entries as
 *   the reaper would (reclaim protocol): those delivered --max-deliveries times are dead-lettered
 *   (deadLetterPending), the others claimed to the drain's own consumer (ConsumerGroup.claimIds, JUSTID,
 *   only entries still idle --min-idle, so an entry its owner touched meanwhile stays put), whose loop
 *   reads them on its next own-pending read and counts them: the accumulate script counts an entry only
 *   when its XACK returned 1, so an owner that comes back with the same batch cannot count it twice.
 *   With --adopt-after off it throws DrainBlockedError once dead consumers held it up --give-up-after.
 */
export class DeadConsumerWatch {
  private lastCheck = 0;
  private lastStaleReport = 0;
  private lastLiveReport = 0;
  private liveSince: number | undefined;
  /** When each (partition, dead consumer) was first seen holding the drain up. */
  private readonly staleSince = new Map<string, number>();
  /** Each holder's pending entries (first XPENDING page) at the last check, by keyOf + ID. */
  private sightings = new Map<string, Sighting>();
  /** Entries claimed to this consumer, and dead-lettered, so far. */
  adopted = 0;
  deadLettered = 0;

  constructor(
    private readonly deps: DeadConsumerDeps,
    private readonly policy: DeadConsumerPolicy,
  ) {}

  /**
   * Called while the drain is blocked, with the partitions whose group has pending entries; at most
   * every 500 ms it judges their holders, reports, adopts, or throws DrainBlockedError.
   */
  async check(partitions: string[]): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < CHECK_MS) return;
    this.lastCheck = now;
    const holders = await this.holders(partitions);
    const stale = holders.filter((h) => !h.live);
    const live = holders.filter((h) => h.live);
    const current = new Set(stale.map(keyOf));
    for (const key of this.staleSince.keys()) if (!current.has(key)) this.staleSince.delete(key);
    let appeared = false;
    for (const h of stale) {
      if (!this.staleSince.has(keyOf(h))) {
        this.staleSince.set(keyOf(h), now);
        appeared = true;
      }
    }
    if (stale.length > 0 && (appeared || now - this.lastStaleReport >= REPORT_MS)) {
      this.lastStaleReport = now;
      this.reportStale(stale, now);
    }
    this.liveSince = live.length === 0 ? undefined : (this.liveSince ?? now);
    if (
      this.liveSince !== undefined &&
      now - this.liveSince >= REPORT_MS &&
      now - this.lastLiveReport >= REPORT_MS
    ) {
      this.lastLiveReport = now;
      for (const h of live) {
        this.deps.log.info(
          {
            partition: h.partition,
            consumer: h.consumer,
            pending: h.pending,
            idleMs: h.idleMs,
            unchangedMs: h.unchangedMs,
            waitedMs: now - this.liveSince,
          },
          'drain waiting for entries pending with a live consumer',
        );
      }
    }
    const { adoptAfterMs } = this.policy;
    if (adoptAfterMs === 'off') {
      if (stale.length === 0) return;
      const since = Math.min(...stale.map((h) => this.staleSince.get(keyOf(h))!));
      if (now - since >= this.policy.giveUpAfterMs) throw this.blocked(stale, now - since);
      return;
    }
    for (const h of stale) {
      if (now - this.staleSince.get(keyOf(h))! >= adoptAfterMs) await this.adopt(h);
    }
  }

  /** Every consumer but this one holding pending entries of `partitions`, judged live or dead. */
  private async holders(partitions: string[]): Promise<Holder[]> {
    const { group, consumer, minIdleMs } = this.policy;
    const sightings = new Map<string, Sighting>();
    const judged = await Promise.all(
      partitions.map(async (partition) => {
        const consumers = (await judgeConsumers(this.deps.redis, partition, group, minIdleMs)).filter(
          (c) => c.pending > 0 && c.name !== consumer,
        );
        return Promise.all(
          consumers.map(async (c) => {
            const key = keyOf({ partition, consumer: c.name });
            const page = await new ConsumerGroup(this.deps.redis, group, [partition], consumer).pending(
              partition,
              { count: PAGE, consumer: c.name },
            );
            const now = Date.now();
            let unchangedMs = 0;
            for (const p of page) {
              const before = this.sightings.get(`${key}\u0000${p.id}`);
              const since = before?.deliveries === p.deliveries ? before.since : now;
              sightings.set(`${key}\u0000${p.id}`, { deliveries: p.deliveries, since });
              unchangedMs = Math.max(unchangedMs, now - since);
            }
            return {
              partition,
              consumer: c.name,
              pending: c.pending,
              idleMs: c.idleMs,
              unchangedMs,
              live: c.live && unchangedMs < minIdleMs,
            };
          }),
        );
      }),
    );
    this.sightings = sightings;
    return judged.flat();
  }

  /** How long the drain has seen `p` pending with `h` unchanged (0 when it has not seen it so). */
  private unchangedFor(h: Holder, p: PendingEntry, now: number): number {
    const seen = this.sightings.get(`${keyOf(h)}\u0000${p.id}`);
    return seen && seen.deliveries === p.deliveries ? now - seen.since : 0;
  }

  private reportStale(stale: Holder[], now: number): void {
    const { adoptAfterMs, giveUpAfterMs, minIdleMs } = this.policy;
    for (const h of stale) {
      const waited = now - this.staleSince.get(keyOf(h))!;
      const next =
        adoptAfterMs === 'off'
          ? { giveUpInMs: Math.max(0, giveUpAfterMs - waited) }
          : { adoptInMs: Math.max(0, adoptAfterMs - waited) };
      this.deps.log.warn(
        {
          partition: h.partition,
          consumer: h.consumer,
          pending: h.pending,
          idleMs: h.idleMs,
          unchangedMs: h.unchangedMs,
          minIdleMs,
          ...next,
        },
        'drain waiting for entries pending with a consumer not seen for --min-idle',
      );
    }
  }

  private blocked(stale: Holder[], waitedMs: number): DrainBlockedError {
    const named = stale
      .slice(0, NAMED)
      .map(
        (h) =>
          `${h.partition} has ${h.pending} with "${h.consumer}" (${
            h.idleMs >= this.policy.minIdleMs
              ? `not seen for ${seconds(h.idleMs)}`
              : `seen, but leaving an entry untouched for ${seconds(h.unchangedMs)}`
          })`,
      );
    if (stale.length > NAMED) named.push(`${stale.length - NAMED} more`);
    return new DrainBlockedError(
      `the drain gave up after ${seconds(waitedMs)} waiting for entries pending with consumers not seen for --min-idle (${seconds(this.policy.minIdleMs)}): ${named.join('; ')}. With --adopt-after off nothing adopts them: run the reaper, or drain with --adopt-after`,
    );
  }

  /**
   * Dead-letters the holder's entries delivered too often and claims the rest to this consumer. An entry
   * is taken when it is idle --min-idle, or when the drain has seen it pending with the holder unchanged
   * for --min-idle (a reaper's hold-back resets its idle time without delivering it). Either way the
   * claim is conditional on nobody having touched it since this XPENDING page was read: XCLAIM's min-idle
   * is the least idle time the page showed plus the time since (an owner re-reading it, or anyone
   * claiming it, resets its idle time, and the claim then leaves it where it is).
   */
  private async adopt(h: Holder): Promise<void> {
    const { redis, keys, log, metrics } = this.deps;
    const { group, consumer, minIdleMs, maxDeliveries } = this.policy;
    const mine = new ConsumerGroup(redis, group, [h.partition], consumer);
    let claimed = 0;
    let deadLettered = 0;
    let start = '-';
    for (;;) {
      const page = await mine.pending(h.partition, { start, count: PAGE, consumer: h.consumer });
      const readAt = Date.now();
      const due = page.filter((p) => p.idleMs >= minIdleMs || this.unchangedFor(h, p, readAt) >= minIdleMs);
      const leastIdle = Math.min(...due.map((p) => p.idleMs));
      /** Untouched since the page was read. */
      const untouched = () => Math.max(1, leastIdle + Date.now() - readAt);
      const poison = due.filter((p) => p.deliveries >= maxDeliveries).map((p) => p.id);
      const fresh = due.filter((p) => p.deliveries < maxDeliveries).map((p) => p.id);
      if (poison.length > 0) {
        const outcome = await deadLetterPending(redis, keys.deadLetters, {
          stream: h.partition,
          group,
          ids: poison,
          minIdleMs: untouched(),
          minDeliveries: maxDeliveries,
          reason: DELIVERED_TOO_OFTEN,
          durability: this.policy.durability,
        });
        deadLettered += outcome.deadLettered.length;
        if (outcome.deadLettered.length > 0) {
          metrics?.deadLettered.inc(outcome.deadLettered.length);
          log.warn(
            {
              partition: h.partition,
              consumer: h.consumer,
              count: outcome.deadLettered.length,
              ids: outcome.deadLettered.slice(0, LOGGED_IDS),
            },
            'dead-lettered entries delivered too often',
          );
        }
        this.logDeleted(h, outcome.gone);
      }
      const taken = await mine.claimIds(h.partition, fresh, { minIdle: untouched() });
      claimed += taken.claimed.length;
      this.logDeleted(h, taken.deleted);
      if (page.length < PAGE) break;
      start = `(${page[page.length - 1]!.id}`;
    }
    this.adopted += claimed;
    this.deadLettered += deadLettered;
    if (claimed + deadLettered > 0) {
      log.warn(
        {
          partition: h.partition,
          from: h.consumer,
          to: consumer,
          count: claimed,
          deadLettered,
          idleMs: h.idleMs,
        },
        'drain adopted entries pending with a consumer not seen for --min-idle',
      );
    }
  }

  private logDeleted(h: Holder, ids: string[]): void {
    if (ids.length === 0) return;
    this.deps.log.warn(
      { partition: h.partition, consumer: h.consumer, count: ids.length, ids: ids.slice(0, LOGGED_IDS) },
      'pending entries no longer in stream',
    );
  }
}

function keyOf(h: Pick<Holder, 'partition' | 'consumer'>): string {
  return `${h.partition}\u0000${h.consumer}`;
}
