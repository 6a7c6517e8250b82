import {
  ConsumerGroup,
  DELIVERED_TOO_OFTEN,
  deadLetterPending,
  judgeConsumers,
  type Durability,
  type Logger,
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
  /** Seen within --min-idle. */
  live: boolean;
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
 * - a consumer not seen for --min-idle is dead (killed, or hung): the drain warns at once and every 5 s,
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
    const judged = await Promise.all(
      partitions.map(async (partition) =>
        (await judgeConsumers(this.deps.redis, partition, group, minIdleMs))
          .filter((c) => c.pending > 0 && c.name !== consumer)
          .map((c) => ({ partition, consumer: c.name, pending: c.pending, idleMs: c.idleMs, live: c.live })),
      ),
    );
    return judged.flat();
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
      .map((h) => `${h.partition} has ${h.pending} with "${h.consumer}" (not seen for ${seconds(h.idleMs)})`);
    if (stale.length > NAMED) named.push(`${stale.length - NAMED} more`);
    return new DrainBlockedError(
      `the drain gave up after ${seconds(waitedMs)} waiting for entries pending with consumers not seen for --min-idle (${seconds(this.policy.minIdleMs)}): ${named.join('; ')}. With --adopt-after off nothing adopts them: run the reaper, or drain with --adopt-after`,
    );
  }

  /** Dead-letters the holder's entries delivered too often and claims the rest to this consumer. */
  private async adopt(h: Holder): Promise<void> {
    const { redis, keys, log, metrics } = this.deps;
    const { group, consumer, minIdleMs, maxDeliveries } = this.policy;
    const mine = new ConsumerGroup(redis, group, [h.partition], consumer);
    let claimed = 0;
    let deadLettered = 0;
    let start = '-';
    for (;;) {
      const page = await mine.pending(h.partition, {
        start,
        count: PAGE,
        consumer: h.consumer,
        idle: minIdleMs,
      });
      const poison = page.filter((p) => p.deliveries >= maxDeliveries).map((p) => p.id);
      const fresh = page.filter((p) => p.deliveries < maxDeliveries).map((p) => p.id);
      if (poison.length > 0) {
        const outcome = await deadLetterPending(redis, keys.deadLetters, {
          stream: h.partition,
          group,
          ids: poison,
          minIdleMs,
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
      const taken = await mine.claimIds(h.partition, fresh, { minIdle: minIdleMs });
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

function keyOf(h: Holder): string {
  return `${h.partition}\u0000${h.consumer}`;
}
