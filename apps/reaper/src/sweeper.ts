import {
  ConsumerGroup,
  deadLetterPending,
  defineLuaCommand,
  discoverPartitions,
  groupsOf,
  type LiveConsumer,
  liveConsumers,
  type Logger,
  type PipelineKeys,
  type RedisClient,
} from '@pipe/streams';
import { ClaimMemory } from './claim-memory.js';

const DELETE_IDLE_CONSUMER_LUA = new URL('./lua/delete-idle-consumer-1.lua', import.meta.url);
/** IDs logged per line when listing deleted or dead-lettered entries. */
const LOGGED_IDS = 20;

export interface SweepPolicy {
  minIdleMs: number;
  maxDeliveries: number;
  consumerTtlMs: number;
  liveWithinMs: number;
  /** XPENDING / XAUTOCLAIM COUNT per call. */
  pageSize?: number;
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
  /** Idle entries left in place because their group had no live consumer. */
  awaitingLiveConsumer: number;
  consumersRemoved: number;
  durationMs: number;
  /** False when the sweep stopped early (stop, or the lease was lost). */
  complete: boolean;
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
    awaitingLiveConsumer: 0,
    consumersRemoved: 0,
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
      for (const group of await groupsOf(this.deps.redis, stream)) {
        if (!proceed()) {
          summary.complete = false;
          break;
        }
        summary.groups++;
        await this.sweepGroup(stream, group.name, summary, proceed);
      }
    }
    summary.durationMs = Date.now() - started;
    return summary;
  }

  private async sweepGroup(
    stream: string,
    group: string,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<void> {
    const idle = await this.deadLetterPass(stream, group, summary, proceed);
    if (idle > 0 && proceed()) await this.claimPass(stream, group, idle, summary, proceed);
    if (proceed()) await this.removeIdleConsumers(stream, group, summary);
  }

  /**
   * Walks the PEL's entries idle at least min-idle (XPENDING IDLE, extended form) and dead-letters those
   * delivered max-deliveries times. Returns how many idle entries stay to be claimed.
   */
  private async deadLetterPass(
    stream: string,
    group: string,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<number> {
    const { redis, keys, log } = this.deps;
    const consumerGroup = new ConsumerGroup(redis, group, [stream]);
    let remaining = 0;
    let start = '-';
    for (;;) {
      const page = await consumerGroup.pending(stream, {
        start,
        count: this.pageSize,
        idle: this.policy.minIdleMs,
      });
      const poison = page.filter((p) => p.deliveries >= this.policy.maxDeliveries).map((p) => p.id);
      remaining += page.length - poison.length;
      if (poison.length > 0) {
        const outcome = await deadLetterPending(redis, keys.deadLetters, {
          stream,
          group,
          ids: poison,
          minIdleMs: this.policy.minIdleMs,
          minDeliveries: this.policy.maxDeliveries,
          reason: 'delivered {deliveries} times without ack',
        });
        summary.deadLettered += outcome.deadLettered.length;
        summary.deletedIds += outcome.gone.length;
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
        if (outcome.gone.length > 0) {
          log.warn(
            { stream, group, count: outcome.gone.length, ids: outcome.gone.slice(0, LOGGED_IDS) },
            'pending entries no longer in stream',
          );
        }
      }
      if (page.length < this.pageSize || !proceed()) return remaining;
      start = `(${page[page.length - 1]!.id}`;
    }
  }

  /**
   * XAUTOCLAIM (JUSTID) from `0-0` until the cursor returns to `0-0`, each page to the live consumer with
   * the fewest pending entries. JUSTID leaves the delivery count alone: the consumer's own re-read of its
   * PEL is the delivery that counts, so max-deliveries counts real attempts.
   */
  private async claimPass(
    stream: string,
    group: string,
    idle: number,
    summary: SweepSummary,
    proceed: () => boolean,
  ): Promise<void> {
    const { redis, log } = this.deps;
    const scope = `${stream}\u0000${group}`;
    const live = await liveConsumers(redis, stream, group, this.policy.liveWithinMs, {
      lastSeen: (c, readAt) => this.memory.lastSeen(scope, c.name, c.idleMs, readAt),
    });
    if (live.length === 0) {
      summary.awaitingLiveConsumer += idle;
      log.warn({ stream, group, idle }, 'no live consumer to claim stale entries for');
      return;
    }
    const claimedTo = new Map<string, number>();
    let cursor = '0-0';
    do {
      const target = leastPending(live);
      const [next, ids, deleted] = (await redis.call(
        'XAUTOCLAIM',
        stream,
        group,
        target.name,
        this.policy.minIdleMs,
        cursor,
        'COUNT',
        this.pageSize,
        'JUSTID',
      )) as [string, string[], string[] | undefined];
      cursor = next;
      if (ids.length > 0) {
        this.memory.recordClaim(scope, target.name, Date.now(), target.lastSeenAt);
        target.pending += ids.length;
        claimedTo.set(target.name, (claimedTo.get(target.name) ?? 0) + ids.length);
        summary.reclaimed += ids.length;
      }
      if (deleted && deleted.length > 0) {
        summary.deletedIds += deleted.length;
        log.warn(
          { stream, group, count: deleted.length, ids: deleted.slice(0, LOGGED_IDS) },
          'pending entries no longer in stream',
        );
      }
    } while (cursor !== '0-0' && proceed());
    for (const [consumer, count] of claimedTo)
      log.info({ stream, group, consumer, count }, 'claimed stale entries');
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

function leastPending(live: LiveConsumer[]): LiveConsumer {
  return live.reduce((best, c) => (c.pending < best.pending ? c : best));
}
