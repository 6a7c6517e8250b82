import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ConsumerBatch,
  ConsumerLoop,
  discoverPartitions,
  type Durability,
  forwardOutbox,
  LayoutRecord,
  keepOf,
  type WindowLabel,
  WindowLayout,
  type Logger,
  type PipelineKeys,
  PipeError,
  type RedisClient,
  withDeadline,
} from '@pipe/streams';
import { durabilityOf } from '@pipe/service';
import { accumulateCall } from './accumulate-call.js';
import { DeviceTotalsCache } from './device-totals-cache.js';
import type { AggregatorConfig } from './config.js';
import { DeadConsumerWatch, DrainBlockedError } from './dead-consumers.js';
import { stateAfterPartitionMs, WindowCloser } from './window-closer.js';
import { checkLayout, claimLayout, WindowsMismatchError } from './windows-layout.js';
import type { AggregatorMetrics } from './metrics.js';
import { claimAverages, NotOwnerError } from './ownership.js';
import { type PartitionProgress, readProgress } from './progress.js';
import { type AggregatorScripts, defineAggregatorScripts } from './scripts.js';
import { AggregatorStateKeys } from './state-keys.js';

export type AggregatorSettings = Pick<
  AggregatorConfig,
  | 'group'
  | 'takeOver'
  | 'consumer'
  | 'grace'
  | 'idleClose'
  | 'maxAhead'
  | 'keepHours'
  | 'drain'
  | 'count'
  | 'blockMs'
  | 'pendingCheck'
  | 'minIdle'
  | 'adoptAfter'
  | 'maxDeliveries'
> &
  Partial<Pick<AggregatorConfig, 'waitReplicas' | 'waitTimeout'>> & {
    /** With drain: how long Redis may keep failing (unreachable, or refusing writes when out of memory). */
    giveUpAfter?: number;
  } & Partial<Pick<AggregatorConfig, 'windows' | 'perDevice' | 'keep' | 'changeWindows'>>;

export interface AggregatorDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  metrics?: AggregatorMetrics;
}

/** How often partitions are rediscovered (SCAN) and due hours looked for while entries flow. */
const DISCOVERY_MS = 2000;
const CLOSE_ROUND_MS = 250;
/**
 * How long stop() waits for the batch in hand (and any Redis command in flight) before it gives up on
 * it: under the 5 s stop grace of stopOnSignals, so that a Redis that does not answer (a failover, a
 * stopped server) still lets the process exit 0 within the grace, with a line naming what stays pending.
 */
export const STOP_BUDGET_MS = 4000;

/**
 * Reads every live partition through one consumer group per partition, counts each reading exactly
 * once into its UTC hour, or with --windows into its window of every size (accumulate-batch-n.lua),
 * and publishes each window once (WindowCloser).
 */
export class Aggregator {
  private readonly state: AggregatorStateKeys;
  /** --wait-replicas: replicas that hold a publication or a forward before the next step builds on it. */
  private readonly durability: Durability;
  private scripts: AggregatorScripts | undefined;
  private closer: WindowCloser | undefined;
  /** --windows; the layout record says which layout each day's partitions are counted with. */
  private readonly layout: WindowLayout;
  private readonly keep: Map<WindowLabel, number>;
  private record = new LayoutRecord({});
  private loop: ConsumerLoop | undefined;
  private partitions: string[] = [];
  private lastDiscovery = 0;
  private lastCloseRound = 0;
  private lastOutboxSweep = 0;
  private quietSince = Date.now();
  private stopRequested = false;
  private stopped: Promise<void> | undefined;
  /** Why the run ended early (another group took the averages over), thrown by run(). */
  private failure: Error | undefined;
  /** Readings this instance counted, and when it started: a drain reports its rate. */
  private counted = 0;
  private startedAt = 0;
  /** The batches being counted: each partition's entries until its script answered. */
  private readonly inHand = new Set<{ stream: string; entries: number; firstId: string; lastId: string }>();
  /** The last read's scripts, sent and not yet answered (see count()). */
  private inFlight: Promise<void> | undefined;
  /** With drain: what to do about entries pending with other consumers (dead-consumers.ts). */
  private deadConsumers: DeadConsumerWatch | undefined;
  /** With --per-device, each device's totals of its open finest windows as this instance wrote them. */
  private readonly deviceTotals = new DeviceTotalsCache();

  constructor(
    private readonly settings: AggregatorSettings,
    private readonly deps: AggregatorDeps,
  ) {
    this.state = new AggregatorStateKeys(deps.keys);
    this.layout = (settings.windows ?? WindowLayout.DEFAULT).withPerDevice(settings.perDevice ?? false);
    // Sizes --keep names that --windows lacks are refused here, before anything connects.
    this.keep = keepOf(settings.keep ?? new Map(), this.layout);
    this.durability = durabilityOf({
      waitReplicas: settings.waitReplicas ?? 0,
      waitTimeout: settings.waitTimeout ?? 1000,
    });
  }

  get isRunning(): boolean {
    return this.loop?.isRunning ?? false;
  }

  /** Runs until stop(), or in drain mode until everything present is counted and every hour published. */
  async run(): Promise<void> {
    if (this.loop) throw new PipeError('aggregator is already running', 'ALREADY_RUNNING');
    const { redis, keys, log } = this.deps;
    const s = this.settings;
    this.scripts = defineAggregatorScripts(redis);
    await this.claimAverages();
    if (this.stopRequested) return;
    this.closer = new WindowCloser({
      redis,
      scripts: this.scripts,
      keys,
      state: this.state,
      group: s.group,
      graceMs: s.grace,
      maxAheadMs: s.maxAhead,
      keepHours: s.keepHours,
      log,
      onPublished: () => this.deps.metrics?.hoursPublished.inc(),
      durability: this.durability,
      layoutOf: (day) => this.record.layoutOf(day),
      keep: this.keep,
    });
    this.loop = new ConsumerLoop({
      redis,
      group: s.group,
      consumer: s.consumer,
      count: s.count,
      // A drain waits for nothing new: an empty read only has to say that everything was read.
      blockMs: s.drain ? Math.min(s.blockMs, 50) : s.blockMs,
      pendingCheckMs: s.pendingCheck,
      // A drain is a batch job: it must end, also when Redis keeps refusing its writes (out of memory).
      giveUpAfterMs: s.drain ? s.giveUpAfter : undefined,
      prefetch: true,
      logger: log,
      streams: () => this.livePartitions(),
      handle: (batches) => this.unlessTakenOver(() => this.count(batches)),
      settle: () => this.unlessTakenOver(() => this.settle()),
      onIdle: () => this.onIdle(),
    });
    if (s.drain) {
      this.deadConsumers = new DeadConsumerWatch(
        { redis, keys, log, metrics: this.deps.metrics },
        {
          group: s.group,
          consumer: s.consumer,
          minIdleMs: s.minIdle,
          adoptAfterMs: s.adoptAfter,
          giveUpAfterMs: s.giveUpAfter ?? 10_000,
          maxDeliveries: s.maxDeliveries,
          durability: this.durability,
        },
      );
    }
    log.info({ group: s.group, consumer: s.consumer, drain: s.drain }, 'aggregator started');
    this.startedAt = performance.now();
    await this.loop.run();
    if (this.failure) throw this.failure;
  }

  /**
   * Makes sure this group counts the averages (ownership.ts), waiting while Redis cannot answer as the
   * consumer loop would; another group's ownership ends the run.
   */
  private async claimAverages(): Promise<void> {
    const { redis, keys, log } = this.deps;
    const deps = { redis, keys, state: this.state, scripts: this.scripts!, log };
    const started = Date.now();
    const { drain, giveUpAfter } = this.settings;
    for (;;) {
      try {
        const partitions = await this.livePartitions(true);
        this.record = await claimLayout(deps, this.layout, this.settings.changeWindows ?? false);
        return await claimAverages(deps, this.settings.group, this.settings.takeOver, partitions);
      } catch (err) {
        if (err instanceof NotOwnerError || err instanceof WindowsMismatchError) throw err;
        if (drain && giveUpAfter !== undefined && Date.now() - started >= giveUpAfter) throw err;
        log.warn({ err }, 'cannot claim the averages yet; retrying');
        for (let waited = 0; waited < 1000 && !this.stopRequested; waited += 50) await sleep(50);
        if (this.stopRequested) return;
      }
    }
  }

  /**
   * Lets the batch in hand finish and ends the loop; resolves once it has, or after STOP_BUDGET_MS with a
   * warning naming the batch left unacknowledged (Redis did not answer): its entries stay pending with
   * this consumer, for the reaper or a drain to adopt, and are counted once whoever acknowledges first.
   */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.stopped ??= this.stopWithin(STOP_BUDGET_MS);
    return this.stopped;
  }

  private async stopWithin(budgetMs: number): Promise<void> {
    const loopStopped = this.loop?.stop() ?? Promise.resolve();
    const budgetSpent = new Error('stop budget spent');
    const late = await withDeadline(loopStopped, budgetMs, () => budgetSpent).then(
      () => false,
      (err) => {
        if (err !== budgetSpent) throw err;
        return true;
      },
    );
    if (!late) return;
    const batch = [...this.inHand];
    const entries = batch.reduce((sum, b) => sum + b.entries, 0);
    this.deps.log.warn(
      { consumer: this.settings.consumer, waitedMs: budgetMs, entries, batch },
      entries > 0
        ? 'stopped without acknowledging the batch in hand (Redis did not answer): unless the script reached Redis, its entries stay pending with this consumer for the reaper or a drain to adopt'
        : 'stopped with a Redis command unanswered; no batch in hand (entries read ahead, if any, stay pending with this consumer for the reaper or a drain to adopt)',
    );
  }

  private async livePartitions(force = false): Promise<string[]> {
    const now = Date.now();
    if (force || now - this.lastDiscovery >= DISCOVERY_MS) {
      this.lastDiscovery = now;
      this.partitions = await discoverPartitions(this.deps.redis, this.deps.keys);
      // Every instance follows the layout record: one whose --windows are no longer its newest entry
      // (another started with --change-windows) stops rather than count a day with other scripts.
      if (this.scripts && !force) {
        try {
          this.record = await checkLayout({ ...this.deps, state: this.state }, this.layout);
        } catch (err) {
          if (!(err instanceof WindowsMismatchError)) throw err;
          this.failure = err;
          void this.stop();
        }
      }
    }
    return this.partitions;
  }

  private async unlessTakenOver(counting: () => Promise<void>): Promise<void> {
    try {
      await counting();
    } catch (err) {
      // Another group took the averages over while this one ran: its entries stay pending here, unread
      // by anyone who counts, and this instance stops rather than retry for ever.
      if (!(err instanceof Error) || !err.message.startsWith('NOTOWNER ')) throw err;
      this.failure = new NotOwnerError(
        `${err.message.slice('NOTOWNER '.length)}, not "${this.settings.group}": stopped counting`,
      );
      void this.stop();
    }
  }

  /**
   * Lays out and sends one script per partition of the read (a multi-day backfill costs one round trip
   * per read), then waits for the previous read's scripts: while Redis counts one batch, this lays out
   * the next (ConsumerLoop's settle() awaits the last). Safe in any order (on a cluster a redirected
   * script may run after a later one): every script acknowledges its own entries and counts only those
   * XACK returned 1 for, and a window is sealed only once none of its readings is pending. The device
   * totals cache guesses each batch's outcome before it is known; the script trusts a guess only where
   * the window's hash was last written by the batch laid out before for it (DeviceTotalsCache).
   */
  private async count(batches: ConsumerBatch[]): Promise<void> {
    const started = performance.now();
    const counting = this.send(batches);
    const previous = this.inFlight;
    this.inFlight = counting;
    // Rejections are taken by settle() or below; until then they must not count as unhandled.
    counting.catch(() => {});
    try {
      await previous;
    } catch (err) {
      // Its entries stay pending and are read again; so are this read's, unless counted meanwhile.
      await counting.catch(() => {});
      this.inFlight = undefined;
      throw err;
    }
    this.deps.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    if (Date.now() - this.lastCloseRound >= CLOSE_ROUND_MS) {
      await this.settle();
      await this.closeRound();
    }
  }

  /** Waits for the scripts in flight (and their forwards) to be answered. */
  private async settle(): Promise<void> {
    const counting = this.inFlight;
    this.inFlight = undefined;
    await counting;
  }

  private async send(batches: ConsumerBatch[]): Promise<void> {
    const { log, metrics } = this.deps;
    const sent = this.dispatch(batches);
    await Promise.all(
      sent.map(async ({ held, finestWindows, reply }) => {
        const { stream, entries } = held;
        // A call that failed needs nothing of the device totals cache: its token never reached the
        // window's hash, so the next batch's expectation fails there and the script merges.
        const [counted, duplicates, late, dead, merged] = await reply.finally(() => this.inHand.delete(held));
        for (const g of merged) this.deviceTotals.forget(finestWindows[g - 1]!);
        if (late + dead > 0) await forwardOutbox(this.deps.redis, stream, { durability: this.durability });
        if (dead > 0) log.warn({ stream, count: dead }, 'dead-lettered undecodable entries');
        if (late > 0) log.warn({ stream, count: late }, 'routed late readings');
        if (duplicates > 0) log.info({ stream, count: duplicates }, 'skipped entries already counted');
        this.counted += counted;
        this.quietSince = Date.now();
        metrics?.recordBatch(entries, counted, duplicates, late, dead);
      }),
    );
  }

  /**
   * Lays out every batch of the read, then sends their scripts: a layout that throws sends nothing.
   * Returns each batch's reply with what is held of it meanwhile (not its entries: a batch kept past the
   * next read would outlive young-generation collections and be copied into the old one).
   */
  private dispatch(batches: ConsumerBatch[]) {
    const { keys } = this.deps;
    const s = this.settings;
    const context = {
      keys,
      state: this.state,
      group: s.group,
      consumer: s.consumer,
      now: Date.now(),
      stateAfterPartitionMs: stateAfterPartitionMs(s.keepHours),
      deviceTotals: this.deviceTotals,
    };
    const calls = batches.map((batch) => {
      const layout = this.record.layoutOf(keys.parsePartitionKey(batch.stream));
      const { entries } = batch;
      const held = {
        stream: batch.stream,
        entries: entries.length,
        firstId: entries[0]?.id ?? '',
        lastId: entries[entries.length - 1]?.id ?? '',
      };
      return { held, call: accumulateCall(batch, context, layout) };
    });
    return calls.map(({ held, call }) => {
      if (held.entries > 0) this.inHand.add(held);
      return {
        held,
        finestWindows: call.finestWindows,
        reply: this.scripts!.accumulateBatch(call.keys, call.args),
      };
    });
  }

  /** Closes due hours; with `endedBy`, also every hour that ended by then (see WindowCloser). */
  private async closeRound(endedBy?: number, progress?: PartitionProgress[]) {
    this.lastCloseRound = Date.now();
    const round = await this.closer!.closeDue(progress ?? (await this.progress(this.partitions)), {
      endedBy,
      refresh: async () => this.progress(await this.livePartitions(true)),
    });
    if (endedBy !== undefined || Date.now() - this.lastOutboxSweep >= DISCOVERY_MS)
      await this.sweepOutboxes();
    return round;
  }

  /** Forwards what an instance that crashed between a batch and its forward left in the outboxes. */
  private async sweepOutboxes(): Promise<void> {
    this.lastOutboxSweep = Date.now();
    for (const partition of this.partitions)
      await forwardOutbox(this.deps.redis, partition, { durability: this.durability });
  }

  private progress(partitions: string[]): Promise<PartitionProgress[]> {
    return readProgress(this.deps.redis, this.deps.keys, this.state, this.settings.group, partitions);
  }

  private async onIdle(): Promise<void> {
    if (this.stopRequested) return;
    const s = this.settings;
    const quiet = Date.now() - this.quietSince;
    if (s.drain || quiet >= s.idleClose) {
      const partitions = await this.livePartitions(true);
      const progress = await this.progress(partitions);
      if (progress.every((p) => p.caughtUp)) {
        // Idle close takes only hours that ended --idle-close ago: with several instances each sees a
        // share of the readings, so one instance's quiet does not mean the current hour is over. Nor
        // before their --grace has passed on the clock: a device that reports less often than
        // --idle-close is still inside the lateness the operator allowed.
        const endedBy = s.drain ? Number.POSITIVE_INFINITY : Date.now() - Math.max(s.idleClose, s.grace);
        const round = await this.closeRound(endedBy, progress);
        if (s.drain && round.openHours === 0 && !round.blockedBy) {
          const seconds = (performance.now() - this.startedAt) / 1000;
          this.deps.log.info(
            {
              partitions: partitions.length,
              readings: this.counted,
              seconds,
              perSecond: this.counted / seconds,
              adopted: this.deadConsumers?.adopted ?? 0,
            },
            'drained',
          );
          void this.stop();
        }
        return;
      }
      // Entries pending with other consumers hold their hours back: a drain says who holds them, and
      // adopts a dead consumer's entries or gives up (dead-consumers.ts) rather than wait in silence.
      if (this.deadConsumers) {
        try {
          await this.deadConsumers.check(progress.filter((p) => p.pending > 0).map((p) => p.partition));
        } catch (err) {
          if (!(err instanceof DrainBlockedError)) throw err;
          this.failure = err;
          void this.stop();
          return;
        }
      }
    }
    await this.closeRound();
  }
}
