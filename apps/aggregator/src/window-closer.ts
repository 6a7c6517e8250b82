import {
  connectionEpoch,
  DAY_MS,
  DEFAULT_KEPT_WINDOWS,
  type Durability,
  MAX_KEEP_MS,
  forwardOutbox,
  HOUR_MS,
  encodeAverage,
  encodeWindowAverage,
  type Logger,
  outboxOf,
  type PipelineKeys,
  NO_WAIT,
  type RedisClient,
  waitForReplicas,
  type WindowLabel,
  type WindowLayout,
  type WindowSize,
  windowName,
  windowOf,
} from '@pipe/streams';
import { deviceWindowsOf, publishDeviceWindows } from './device-windows.js';
import { averageOf, type PartitionTotals, sumHourTotals, windowAverageOf } from './hour-totals.js';
import { type PartitionProgress, watermarkOf } from './progress.js';
import type { AggregatorScripts, PublishReply } from './scripts.js';
import type { AggregatorStateKeys } from './state-keys.js';

export interface WindowCloserOptions {
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
  /**
   * The window layout of a partition's day (the layout record's entry for it); the 1h layout for every
   * day when not given.
   */
  layoutOf?: (day: number) => WindowLayout;
  /** --keep: how long each size's fleet results are kept (ms); 720 windows of a size not named. */
  keep?: ReadonlyMap<WindowLabel, number>;
}

/** Pending entries seal-window inspects before it gives up and waits (bounds the script's work). */
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
  /** Why the round stopped before the last open window, if it did (`hourStart`: the window's start). */
  blockedBy?: { status: BlockedStatus; hourStart: number; size: WindowLabel; detail: string };
  /** Windows (of every size) still open after the round. */
  openHours: number;
}

/** One open window of one size, and the partitions that hold it. */
interface PlannedWindow {
  size: WindowSize;
  start: number;
  holders: string[];
}

const HOUR: WindowSize = { label: '1h', ms: HOUR_MS };

/**
 * Publishes due windows of every size of the layout, in the order of their ends (the last minute of
 * an hour before the hour, the hour before the day). A window is due when stream time (watermarkOf)
 * passed its end plus the grace, or at once when forced (drain, idle close). Closing a window takes
 * three steps, each a script in one cluster slot, so it works the same on one server and on a cluster:
 * 1. seal on every live partition of the window's day and earlier (the shards of a day included):
 *    refused while a reading up to the window's end is pending there or an earlier window of the size
 *    is open; once sealed, the partition's totals of the window are final (later readings are late);
 * 2. publish-hour sums them into one entry at ID `<start>-0` of the size's fleet stream, once;
 * 3. settle-hour marks each partition's totals settled (kept, so that a publication Redis loses can be
 *    made again: lostPublications), or sends them to the late stream when the published entry does
 *    not hold them.
 * Every step is idempotent, so instances may race and crash at any point. With the 1h layout (the
 * default) it makes exactly the calls the hour closer made before windows existed.
 */
export class WindowCloser {
  /** `<size> <partition>` of past days sealed through their last window: sealing them again changes nothing. */
  private readonly sealedThrough = new Set<string>();
  /**
   * Per size, the newest window this instance saw in the size's fleet stream or published: a stream
   * whose newest entry is older lost publications (see publish-hour-2.lua, 'regressed').
   */
  private readonly newestPublished = new Map<WindowLabel, number>();
  /** Due windows (`<size> <start>`) whose partitions were rediscovered after they became due. */
  private readonly discoveredWhileDue = new Set<string>();

  constructor(private readonly o: WindowCloserOptions) {}

  private layoutOf(day: number): readonly WindowSize[] {
    return this.o.layoutOf?.(day).sizes ?? [HOUR];
  }

  /**
   * One pass over the open windows, by end; `progress` is readProgress() of the live partitions.
   * Windows that ended by `endedBy` close whatever stream time says (drain: all; idle close: those that
   * ended long enough ago). Before a window's first close attempt, `refresh` rediscovers the partitions,
   * so a shard created since the last discovery is sealed with the others and holds stream time back.
   */
  async closeDue(
    progress: PartitionProgress[],
    { endedBy = Number.NEGATIVE_INFINITY, refresh }: CloseOptions = {},
  ): Promise<CloseRound> {
    let fromRefresh = false;
    for (;;) {
      const plan = await this.plan(progress);
      const round: CloseRound = { published: 0, openHours: plan.windows.length };
      let refreshed = false;
      for (const { size, start, holders } of plan.windows) {
        const end = start + size.ms;
        const id = `${size.label} ${start}`;
        if (plan.watermark < end + this.o.graceMs && end > endedBy) {
          round.blockedBy = { status: 'not-due', hourStart: start, size: size.label, detail: '' };
          break;
        }
        // One discovery after a window became due is enough (a blocked one must not SCAN every round).
        if (fromRefresh) this.discoveredWhileDue.add(id);
        else if (refresh && !this.discoveredWhileDue.has(id)) {
          progress = await refresh();
          fromRefresh = refreshed = true;
          break;
        }
        const forced = plan.watermark < end + this.o.graceMs;
        const closed = await this.close(size, start, progress, holders, forced);
        if ('status' in closed) {
          round.blockedBy = { ...closed, hourStart: start, size: size.label };
          break;
        }
        this.discoveredWhileDue.delete(id);
        round.openHours--;
        if (closed.outcome === 'published') round.published++;
      }
      if (!refreshed) return round;
    }
  }

  /**
   * Stream time, capped at the clock plus maxAhead (a reading stamped in the future must not declare
   * the current window over), and the open windows of every size with the partitions holding them.
   */
  private async plan(progress: PartitionProgress[]) {
    const watermark = Math.min(watermarkOf(progress), Date.now() + this.o.maxAheadMs);
    const live = new Set(progress.map((p) => p.partition));
    for (const key of this.sealedThrough)
      if (!live.has(key.slice(key.indexOf(' ') + 1))) this.sealedThrough.delete(key);
    const sizes = new Map<WindowLabel, WindowSize>();
    for (const p of progress) for (const size of this.layoutOf(p.day)) sizes.set(size.label, size);
    const planned = new Map<string, PlannedWindow>();
    for (const size of sizes.values()) {
      const holding = progress.filter((p) => this.layoutOf(p.day).some((s) => s.label === size.label));
      const [openLists, lostLists] = await Promise.all([
        Promise.all(
          holding.map((p) => this.o.redis.zrange(this.o.state.openWindows(p.partition, size), 0, -1)),
        ),
        this.lostPublications(size, holding),
      ]);
      openLists.forEach((open, i) => {
        for (const start of new Set([...open, ...lostLists[i]!].map(Number))) {
          const id = `${size.label} ${start}`;
          const window = planned.get(id) ?? { size, start, holders: [] };
          window.holders.push(holding[i]!.partition);
          planned.set(id, window);
        }
      });
    }
    const windows = [...planned.values()].sort(
      (a, b) => a.start + a.size.ms - (b.start + b.size.ms) || a.size.ms - b.size.ms,
    );
    for (const id of this.discoveredWhileDue) if (!planned.has(id)) this.discoveredWhileDue.delete(id);
    return { watermark, windows };
  }

  /**
   * Per partition, the settled windows of a size newer than its fleet stream's newest entry: their
   * publication was lost (Redis acknowledged it, then a failover to a replica that lacked it, without
   * --wait-replicas). Publications go oldest first, so a lost one is always newer than what remains;
   * closing these windows again publishes them from the settled totals, exactly.
   */
  private async lostPublications(size: WindowSize, progress: PartitionProgress[]): Promise<string[][]> {
    const [newest] = await this.o.redis.xrevrange(this.o.keys.averagesFor(size), '+', '-', 'COUNT', 1);
    if (newest) this.sawPublished(size, Number(newest[0].split('-')[0]));
    const after = newest ? `(${newest[0].split('-')[0]}` : '-inf';
    return Promise.all(
      progress.map((p) =>
        this.o.redis.zrangebyscore(this.o.state.settledWindows(p.partition, size), after, '+inf'),
      ),
    );
  }

  /**
   * With --per-device, the size next to `size` in the day's layout (-1 finer, +1 coarser): device totals
   * fold from each window into the coarser one that holds it when it settles (settle-window-n.lua).
   */
  private neighbour(day: number, size: WindowSize, step: -1 | 1): WindowSize | undefined {
    const layout = this.o.layoutOf?.(day);
    if (!layout?.perDevice) return undefined;
    const sizes = layout.sizes;
    return sizes[sizes.findIndex((s) => s.label === size.label) + step];
  }

  /** Seals one partition for a window (or only checks that it could be). */
  private seal(size: WindowSize, start: number, p: PartitionProgress, mode: 'check' | 'seal') {
    const { scripts, state } = this.o;
    const keys = [
      p.partition,
      state.aggHash(p.partition),
      state.openWindows(p.partition, size),
      state.window(p.partition, size, start),
    ];
    // Not sealed while a finer window inside it has not folded its devices in yet.
    const finer = this.neighbour(p.day, size, -1);
    if (finer) keys.push(state.openWindows(p.partition, finer));
    return scripts.sealWindow(keys, [
      this.o.group,
      start,
      PENDING_INSPECT_LIMIT,
      p.day,
      mode,
      stateAfterPartitionMs(this.o.keepHours),
      size.ms,
      state.sealedField(size),
    ]);
  }

  /** Entries kept in a size's fleet stream: --keep-hours for temps:averages, keep/size for the others. */
  private maxLength(size: WindowSize): number {
    if (size.label === '1h') return this.o.keepHours;
    const keep = this.o.keep?.get(size.label) ?? size.ms * 720;
    return Math.max(1, Math.ceil(keep / size.ms));
  }

  /**
   * Closes one window; or says why not, when a partition refused to seal. `forced` (drain, idle close):
   * stream time does not say the window is over, so a partition with entries not yet read (one found
   * just now) must be read first; stream time would otherwise have waited for it.
   */
  private async close(
    size: WindowSize,
    start: number,
    progress: PartitionProgress[],
    holders: string[],
    forced: boolean,
  ): Promise<{ status: BlockedStatus; detail: string } | { outcome: PublishReply[0] | 'empty' }> {
    const { scripts, state, log } = this.o;
    const day = Math.floor(start / DAY_MS) * DAY_MS;
    const targets = progress.filter(
      (p) =>
        this.layoutOf(p.day).some((s) => s.label === size.label) &&
        (p.day === day || (p.day < day && !this.sealedThrough.has(`${size.label} ${p.partition}`))),
    );
    const unread = forced ? targets.find((p) => !p.delivered) : undefined;
    if (unread) return { status: 'pending', detail: `${unread.partition} has entries not yet read` };
    // Every partition is checked before any is sealed: a partition sealed while another holds the
    // window back (a crashed consumer's pending entries wait for the reaper) would send its readings
    // of the window to the late stream all that time.
    for (const [status, detail] of await Promise.all(
      targets.map((p) => this.seal(size, start, p, 'check')),
    )) {
      if (status === 'earlier-open' || status === 'pending') return { status, detail };
    }
    const parts: PartitionTotals[] = [];
    const sealedSince = connectionEpoch(this.o.redis);
    const sealed = await Promise.all(targets.map((p) => this.seal(size, start, p, 'seal')));
    for (const [i, [status, detail]] of sealed.entries()) {
      if (status === 'earlier-open' || status === 'pending') return { status, detail };
      if (status !== 'sealed') throw new Error(`seal answered ${status}`);
      const p = targets[i]!;
      if (p.day < day) this.sealedThrough.add(`${size.label} ${p.partition}`);
      else parts.push({ partition: p.partition, hash: detail });
    }
    // The publication builds on the seals and the totals they froze: a partition's master that lost
    // its seal in a failover would count a reading of the window again that settle then drops.
    const durability = this.o.durability ?? NO_WAIT;
    await Promise.all(
      targets.map((p) => waitForReplicas(this.o.redis, p.partition, durability, sealedSince)),
    );

    const averages = this.o.keys.averagesFor(size);
    const totals = sumHourTotals(parts);
    const republished = parts.filter((p) => p.hash.includes('settled')).map((p) => p.partition);
    let publishedSince: number | undefined;
    let outcome: PublishReply[0] | 'empty' = 'empty';
    let detail = '';
    if (totals) {
      // The 1h layout writes today's RU202 entry; a layout of several sizes adds the spread and times.
      const several = this.layoutOf(day).length > 1;
      const average = averageOf(totals, start);
      const fields = several
        ? encodeWindowAverage(windowAverageOf(totals, start, size))
        : encodeAverage(average);
      publishedSince = connectionEpoch(this.o.redis);
      [outcome, detail] = await scripts.publishHour(
        [averages, state.windowSources(size, start)],
        [
          start,
          this.maxLength(size),
          stateAfterPartitionMs(this.o.keepHours),
          JSON.stringify(totals.sources),
          this.newestPublished.get(size.label) ?? '',
          ...fields,
        ],
      );
      if (outcome === 'regressed') {
        // Publishing past the lost windows would leave them behind a newer ID for ever: plan again,
        // and lostPublications finds them (as settled windows newer than what the stream kept).
        log.error(
          {
            ...(size.label === '1h' ? {} : { size: size.label }),
            hourStart: start,
            newestKnown: this.newestPublished.get(size.label),
            newestNow: detail || null,
          },
          'the averages stream lost publications (a failover without --wait-replicas?); making them again first',
        );
        if (detail) this.newestPublished.set(size.label, Number(detail.split('-')[0]));
        else this.newestPublished.delete(size.label);
        return { status: 'regressed', detail };
      }
      this.sawPublished(size, outcome === 'superseded' ? Number(detail.split('-')[0]) : start);
      if (outcome === 'published') {
        const { date, hour, average_temp_f } = average;
        if (size.label === '1h') {
          log.info(
            { date, hour, average: String(average_temp_f), partitions: totals.sources.length },
            'published hourly average',
          );
          this.o.onPublished?.();
        } else
          log.debug(
            { size: size.label, start, average: String(average_temp_f), partitions: totals.sources.length },
            'published window average',
          );
        if (republished.length > 0)
          log.error(
            {
              ...(size.label === '1h' ? {} : { size: size.label }),
              hourStart: start,
              partitions: republished,
              readings: totals.n,
            },
            'published an hour again: Redis lost its publication after the partitions had settled it (a failover without --wait-replicas?); repaired from their settled totals',
          );
      } else if (outcome === 'superseded') {
        log.error(
          { ...(size.label === '1h' ? {} : { size: size.label }), hourStart: start, lastPublished: detail },
          'hour closed after a later one; totals sent to the late stream',
        );
      }
    }
    if (totals && this.o.layoutOf?.(day).perDevice && (outcome === 'published' || outcome === 'already'))
      await this.publishDevices(size, start, parts, outcome === 'already' ? detail : totals.sources);
    // Settling (another master on a cluster) strips the totals of their devices and ends the window
    // there: the publication must first be where a failover cannot take it back. publish-hour writes
    // on every outcome, so this WAIT also covers another instance's publication it found.
    if (totals) await waitForReplicas(this.o.redis, averages, durability, publishedSince);
    const included = outcome === 'already' ? new Set<string>(detail ? JSON.parse(detail) : []) : undefined;
    const what = windowName(size);
    const coarser = this.neighbour(day, size, 1);
    for (const partition of new Set([...holders, ...(totals?.sources ?? [])])) {
      let reason = '';
      if (outcome === 'superseded')
        reason = `a later ${size.label === '1h' ? 'hour' : 'window'} (${detail}) was published first`;
      else if (included && !included.has(partition))
        reason = `${what} ${start} was published without these readings`;
      const keys = [
        state.openWindows(partition, size),
        state.window(partition, size, start),
        outboxOf(partition),
        state.settledWindows(partition, size),
      ];
      if (coarser) keys.push(state.window(partition, coarser, windowOf(start, coarser).start));
      const late = await scripts.settleHour(keys, [start, reason, partition, this.o.keys.late]);
      if (late > 0) await forwardOutbox(this.o.redis, partition, { durability });
    }
    return { outcome };
  }

  /**
   * --per-device: each device's result of the window, merged over the partitions the fleet entry sums
   * (`sources`: on `already`, the ones recorded with it), before any partition settles (settle strips
   * the device totals): a crash before settle repeats this, and done devices answer `already`.
   */
  private async publishDevices(
    size: WindowSize,
    start: number,
    parts: PartitionTotals[],
    sources: string | string[],
  ): Promise<void> {
    const included = new Set<string>(
      typeof sources === 'string' ? (sources ? JSON.parse(sources) : []) : sources,
    );
    const windows = deviceWindowsOf(
      parts.filter((p) => included.has(p.partition)),
      start,
    );
    const keepOf = (s: WindowSize) =>
      this.o.keep?.get(s.label) ?? Math.min(s.ms * DEFAULT_KEPT_WINDOWS, MAX_KEEP_MS);
    const day = Math.floor(start / DAY_MS) * DAY_MS;
    const counts = await publishDeviceWindows(
      {
        redis: this.o.redis,
        scripts: this.o.scripts,
        keys: this.o.keys,
        keepMs: keepOf(size),
        indexKeepMs: Math.max(...this.layoutOf(day).map(keepOf)),
        durability: this.o.durability ?? NO_WAIT,
      },
      size,
      start,
      windows,
    );
    if (counts.superseded > 0)
      this.o.log.error(
        { size: size.label, start, devices: counts.superseded },
        'device results not written: their streams hold a later window already',
      );
    this.o.log.debug({ size: size.label, start, ...counts }, 'published device results');
  }

  private sawPublished(size: WindowSize, start: number): void {
    this.newestPublished.set(size.label, Math.max(this.newestPublished.get(size.label) ?? start, start));
  }
}
