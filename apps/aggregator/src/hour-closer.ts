import {
  connectionEpoch,
  DAY_MS,
  type Durability,
  forwardOutbox,
  HOUR_MS,
  encodeAverage,
  type Logger,
  outboxOf,
  type PipelineKeys,
  NO_WAIT,
  type RedisClient,
  waitForReplicas,
} from '@pipe/streams';
import { averageOf, type PartitionTotals, sumHourTotals } from './hour-totals.js';
import { type PartitionProgress, watermarkOf } from './progress.js';
import type { AggregatorScripts, PublishReply } from './scripts.js';
import type { AggregatorStateKeys } from './state-keys.js';

export interface HourCloserOptions {
  redis: RedisClient;
  scripts: AggregatorScripts;
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  group: string;
  graceMs: number;
  /** Stream time runs at most this far ahead of the clock (see the config's maxAhead). */
  maxAheadMs: number;
  keepHours: number;
  log: Logger;
  onPublished?: () => void;
  /** --wait-replicas: a publication's replicas must hold it before the partitions drop their totals. */
  durability?: Durability;
}

/** Pending entries seal-hour inspects before it gives up and waits (bounds the script's work). */
const PENDING_INSPECT_LIMIT = 10_000;

/**
 * Sources outlive their average by a week: settle needs them for as long as a partition's totals of
 * the hour can still exist (a crash between publish and settle, then an outage), and partition state
 * lives as long as the partition (two days past its newest reading at the producer's default).
 */
const SOURCES_EXTRA_MS = 7 * DAY_MS;

/**
 * How long a partition's `agg` state (its sealed hour) outlives the partition: at least as long as the
 * sources of its published hours, which are written before the partition expires. A partition written
 * again after it expired then still turns readings of its published hours late; without it they would
 * be counted, and settle-hour would drop them as part of an average that never held them.
 */
export function stateAfterPartitionMs(keepHours: number): number {
  return keepHours * HOUR_MS + SOURCES_EXTRA_MS;
}

/** `regressed`: the averages stream lost publications; the next round makes them again first. */
export type BlockedStatus = 'not-due' | 'pending' | 'earlier-open' | 'regressed';

export interface CloseOptions {
  /** Hours that ended at or before this (ms) close whatever stream time says. */
  endedBy?: number;
  /** Fresh readProgress() of freshly discovered partitions. */
  refresh?: () => Promise<PartitionProgress[]>;
}

export interface CloseRound {
  published: number;
  /** Why the round stopped before the last open hour, if it did. */
  blockedBy?: { status: BlockedStatus; hourStart: number; detail: string };
  /** Hours still open after the round. */
  openHours: number;
}

/**
 * Publishes due hours oldest first. An hour is due when stream time (watermarkOf) passed its end plus
 * the grace, or at once when forced (drain, idle close). Closing an hour takes three steps, each a
 * script in one cluster slot, so it works the same on one server and on a cluster:
 * 1. seal-hour on every live partition of the hour's day and earlier (the shards of a day included):
 *    refused while a reading up to the hour's end is pending there or an earlier hour is open; once
 *    sealed, the partition's totals of the hour are final (later readings of it are late);
 * 2. publish-hour sums them into one entry at ID `<hour>-0`, once;
 * 3. settle-hour marks each partition's totals settled (kept, so that a publication Redis loses can be
 *    made again: lostPublications), or sends them to the late stream when the published entry does
 *    not hold them.
 * Every step is idempotent, so instances may race and crash at any point.
 */
export class HourCloser {
  /** Partitions of past days sealed through their last hour: sealing them again changes nothing. */
  private readonly sealedThrough = new Set<string>();
  /**
   * The newest hour this instance saw in the averages stream or published: a stream whose newest entry
   * is older lost publications (see publish-hour-2.lua, 'regressed').
   */
  private newestPublished: number | undefined;
  /** Due hours whose partitions were rediscovered after they became due. */
  private readonly discoveredWhileDue = new Set<number>();

  constructor(private readonly o: HourCloserOptions) {}

  /**
   * One pass over the open hours, oldest first; `progress` is readProgress() of the live partitions.
   * Hours that ended by `endedBy` close whatever stream time says (drain: all; idle close: those that
   * ended long enough ago). Before an hour's first close attempt, `refresh` rediscovers the partitions,
   * so a shard created since the last discovery is sealed with the others and holds stream time back.
   */
  async closeDue(
    progress: PartitionProgress[],
    { endedBy = Number.NEGATIVE_INFINITY, refresh }: CloseOptions = {},
  ): Promise<CloseRound> {
    let fromRefresh = false;
    for (;;) {
      const plan = await this.plan(progress);
      const round: CloseRound = { published: 0, openHours: plan.hours.length };
      let refreshed = false;
      for (const hourStart of plan.hours) {
        const end = hourStart + HOUR_MS;
        if (plan.watermark < end + this.o.graceMs && end > endedBy) {
          round.blockedBy = { status: 'not-due', hourStart, detail: '' };
          break;
        }
        // One discovery after an hour became due is enough (a blocked hour must not SCAN every round).
        if (fromRefresh) this.discoveredWhileDue.add(hourStart);
        else if (refresh && !this.discoveredWhileDue.has(hourStart)) {
          progress = await refresh();
          fromRefresh = refreshed = true;
          break;
        }
        const forced = plan.watermark < end + this.o.graceMs;
        const closed = await this.close(hourStart, progress, plan.holders.get(hourStart)!, forced);
        if ('status' in closed) {
          round.blockedBy = { ...closed, hourStart };
          break;
        }
        this.discoveredWhileDue.delete(hourStart);
        round.openHours--;
        if (closed.outcome === 'published') round.published++;
      }
      if (!refreshed) return round;
    }
  }

  /**
   * Stream time, capped at the clock plus maxAhead (a reading stamped in the future must not declare
   * the current hour over), and which partitions hold which open hours.
   */
  private async plan(progress: PartitionProgress[]) {
    const watermark = Math.min(watermarkOf(progress), Date.now() + this.o.maxAheadMs);
    const live = new Set(progress.map((p) => p.partition));
    for (const partition of this.sealedThrough)
      if (!live.has(partition)) this.sealedThrough.delete(partition);
    const [openLists, lostLists] = await Promise.all([
      Promise.all(progress.map((p) => this.o.redis.zrange(this.o.state.openHours(p.partition), 0, -1))),
      this.lostPublications(progress),
    ]);
    const holders = new Map<number, string[]>();
    openLists.forEach((open, i) => {
      for (const hour of new Set([...open, ...lostLists[i]!].map(Number))) {
        const list = holders.get(hour) ?? [];
        list.push(progress[i]!.partition);
        holders.set(hour, list);
      }
    });
    const hours = [...holders.keys()].sort((a, b) => a - b);
    for (const hour of this.discoveredWhileDue) if (!holders.has(hour)) this.discoveredWhileDue.delete(hour);
    return { watermark, holders, hours };
  }

  /**
   * Per partition, the settled hours newer than the averages stream's newest entry: their publication
   * was lost (Redis acknowledged it, then a failover to a replica that lacked it, without
   * --wait-replicas). Publications go oldest first, so a lost one is always newer than what remains;
   * closing these hours again publishes them from the settled totals, exactly.
   */
  private async lostPublications(progress: PartitionProgress[]): Promise<string[][]> {
    const [newest] = await this.o.redis.xrevrange(this.o.keys.averages, '+', '-', 'COUNT', 1);
    if (newest) this.sawPublished(Number(newest[0].split('-')[0]));
    const after = newest ? `(${newest[0].split('-')[0]}` : '-inf';
    return Promise.all(
      progress.map((p) => this.o.redis.zrangebyscore(this.o.state.settledHours(p.partition), after, '+inf')),
    );
  }

  /**
   * Closes one hour; or says why not, when a partition refused to seal. `forced` (drain, idle close):
   * stream time does not say the hour is over, so a partition with entries not yet read (one found
   * just now) must be read first; stream time would otherwise have waited for it.
   */
  private async close(
    hourStart: number,
    progress: PartitionProgress[],
    holders: string[],
    forced: boolean,
  ): Promise<{ status: BlockedStatus; detail: string } | { outcome: PublishReply[0] | 'empty' }> {
    const { scripts, state, log } = this.o;
    const day = Math.floor(hourStart / DAY_MS) * DAY_MS;
    const targets = progress.filter(
      (p) => p.day === day || (p.day < day && !this.sealedThrough.has(p.partition)),
    );
    const unread = forced ? targets.find((p) => !p.delivered) : undefined;
    if (unread) return { status: 'pending', detail: `${unread.partition} has entries not yet read` };
    const seal = (mode: 'check' | 'seal') =>
      Promise.all(
        targets.map((p) =>
          scripts.sealHour(
            [
              p.partition,
              state.aggHash(p.partition),
              state.openHours(p.partition),
              state.hour(p.partition, hourStart),
            ],
            [
              this.o.group,
              hourStart,
              PENDING_INSPECT_LIMIT,
              p.day,
              mode,
              stateAfterPartitionMs(this.o.keepHours),
            ],
          ),
        ),
      );
    // Every partition is checked before any is sealed: a partition sealed while another holds the hour
    // back (a crashed consumer's pending entries wait for the reaper) would send its readings of the
    // hour to the late stream all that time.
    for (const [status, detail] of await seal('check')) {
      if (status === 'earlier-open' || status === 'pending') return { status, detail };
    }
    const parts: PartitionTotals[] = [];
    const sealedSince = connectionEpoch(this.o.redis);
    for (const [i, [status, detail]] of (await seal('seal')).entries()) {
      if (status === 'earlier-open' || status === 'pending') return { status, detail };
      if (status !== 'sealed') throw new Error(`seal-hour answered ${status}`);
      const p = targets[i]!;
      if (p.day < day) this.sealedThrough.add(p.partition);
      else parts.push({ partition: p.partition, hash: detail });
    }
    // The publication builds on the seals and the totals they froze: a partition's master that lost
    // its seal in a failover would count a reading of the hour again that settle then drops.
    const durability = this.o.durability ?? NO_WAIT;
    await Promise.all(
      targets.map((p) => waitForReplicas(this.o.redis, p.partition, durability, sealedSince)),
    );

    const totals = sumHourTotals(parts);
    const republished = parts.filter((p) => p.hash.includes('settled')).map((p) => p.partition);
    let publishedSince: number | undefined;
    let outcome: PublishReply[0] | 'empty' = 'empty';
    let detail = '';
    if (totals) {
      const average = averageOf(totals, hourStart);
      publishedSince = connectionEpoch(this.o.redis);
      [outcome, detail] = await scripts.publishHour(
        [this.o.keys.averages, state.sources(hourStart)],
        [
          hourStart,
          this.o.keepHours,
          stateAfterPartitionMs(this.o.keepHours),
          JSON.stringify(totals.sources),
          this.newestPublished ?? '',
          ...encodeAverage(average),
        ],
      );
      if (outcome === 'regressed') {
        // Publishing past the lost hours would leave them behind a newer ID for ever: plan again, and
        // lostPublications finds them (as settled hours newer than what the stream kept).
        log.error(
          { hourStart, newestKnown: this.newestPublished, newestNow: detail || null },
          'the averages stream lost publications (a failover without --wait-replicas?); making them again first',
        );
        this.newestPublished = detail ? Number(detail.split('-')[0]) : undefined;
        return { status: 'regressed', detail };
      }
      this.sawPublished(outcome === 'superseded' ? Number(detail.split('-')[0]) : hourStart);
      if (outcome === 'published') {
        const { date, hour, average_temp_f } = average;
        log.info(
          { date, hour, average: String(average_temp_f), partitions: totals.sources.length },
          'published hourly average',
        );
        this.o.onPublished?.();
        if (republished.length > 0)
          log.error(
            { hourStart, partitions: republished, readings: totals.n },
            'published an hour again: Redis lost its publication after the partitions had settled it (a failover without --wait-replicas?); repaired from their settled totals',
          );
      } else if (outcome === 'superseded') {
        log.error(
          { hourStart, lastPublished: detail },
          'hour closed after a later one; totals sent to the late stream',
        );
      }
    }
    // Settling (another master on a cluster) strips the totals of their devices and ends the hour
    // there: the publication must first be where a failover cannot take it back (a lost one is made
    // again from the settled totals, lostPublications, but only while it is the newest). publish-hour
    // writes on every outcome, so this WAIT also covers another instance's publication it found.
    if (totals) await waitForReplicas(this.o.redis, this.o.keys.averages, durability, publishedSince);
    const included = outcome === 'already' ? new Set<string>(detail ? JSON.parse(detail) : []) : undefined;
    for (const partition of new Set([...holders, ...(totals?.sources ?? [])])) {
      let reason = '';
      if (outcome === 'superseded') reason = `a later hour (${detail}) was published first`;
      else if (included && !included.has(partition))
        reason = `hour ${hourStart} was published without these readings`;
      const late = await scripts.settleHour(
        [
          state.openHours(partition),
          state.hour(partition, hourStart),
          outboxOf(partition),
          state.settledHours(partition),
        ],
        [hourStart, reason, partition, this.o.keys.late],
      );
      if (late > 0) await forwardOutbox(this.o.redis, partition, { durability });
    }
    return { outcome };
  }

  private sawPublished(hourStart: number): void {
    this.newestPublished = Math.max(this.newestPublished ?? hourStart, hourStart);
  }
}
