import {
  type ConsumerBatch,
  ConsumerLoop,
  discoverPartitions,
  type Logger,
  type PipelineKeys,
  PipeError,
  type RedisClient,
} from '@pipe/streams';
import { accumulateCall } from './batch.js';
import type { AggregatorConfig } from './config.js';
import { HourCloser } from './hour-closer.js';
import type { AggregatorMetrics } from './metrics.js';
import { type PartitionProgress, readProgress } from './progress.js';
import { type AggregatorScripts, defineAggregatorScripts } from './scripts.js';
import { AggregatorStateKeys } from './state-keys.js';

export type AggregatorSettings = Pick<
  AggregatorConfig,
  | 'group'
  | 'consumer'
  | 'grace'
  | 'idleClose'
  | 'keepHours'
  | 'alertAbove'
  | 'drain'
  | 'count'
  | 'blockMs'
  | 'pendingCheck'
>;

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
 * Reads every live partition through one consumer group per partition, counts each reading exactly
 * once into its UTC hour (accumulate-batch-n.lua) and publishes each hour once (close-hour-n.lua).
 */
export class Aggregator {
  private readonly state: AggregatorStateKeys;
  private scripts: AggregatorScripts | undefined;
  private closer: HourCloser | undefined;
  private loop: ConsumerLoop | undefined;
  private partitions: string[] = [];
  private lastDiscovery = 0;
  private lastCloseRound = 0;
  private quietSince = Date.now();
  private stopRequested = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly settings: AggregatorSettings,
    private readonly deps: AggregatorDeps,
  ) {
    this.state = new AggregatorStateKeys(deps.keys);
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
    this.closer = new HourCloser({
      redis,
      scripts: this.scripts,
      keys,
      state: this.state,
      group: s.group,
      graceMs: s.grace,
      keepHours: s.keepHours,
      log,
      onPublished: () => this.deps.metrics?.hoursPublished.inc(),
    });
    this.loop = new ConsumerLoop({
      redis,
      group: s.group,
      consumer: s.consumer,
      count: s.count,
      // A drain waits for nothing new: an empty read only has to say that everything was read.
      blockMs: s.drain ? Math.min(s.blockMs, 50) : s.blockMs,
      pendingCheckMs: s.pendingCheck,
      prefetch: true,
      logger: log,
      streams: () => this.livePartitions(),
      handle: (batches) => this.handle(batches),
      onIdle: () => this.onIdle(),
    });
    log.info({ group: s.group, consumer: s.consumer, drain: s.drain }, 'aggregator started');
    await this.loop.run();
  }

  stop(): Promise<void> {
    this.stopRequested = true;
    this.stopped ??= this.loop?.stop() ?? Promise.resolve();
    return this.stopped;
  }

  private async livePartitions(force = false): Promise<string[]> {
    const now = Date.now();
    if (force || now - this.lastDiscovery >= DISCOVERY_MS) {
      this.lastDiscovery = now;
      this.partitions = await discoverPartitions(this.deps.redis, this.deps.keys);
    }
    return this.partitions;
  }

  private async handle(batches: ConsumerBatch[]): Promise<void> {
    const started = performance.now();
    const { keys, log, metrics } = this.deps;
    const s = this.settings;
    const now = Date.now();
    const outputs = {
      averages: keys.averages,
      late: keys.late,
      deadLetters: keys.deadLetters,
      alerts: keys.alerts,
    };
    // One script per partition, sent together: a multi-day backfill costs one round trip per read.
    await Promise.all(
      batches.map(async (batch) => {
        const call = accumulateCall(batch, {
          keys,
          state: this.state,
          outputs,
          group: s.group,
          consumer: s.consumer,
          alertAbove: s.alertAbove,
          now,
        });
        const [counted, duplicates, late, dead, alerts] = await this.scripts!.accumulateBatch(
          call.keys,
          call.args,
        );
        for (const index of alerts) {
          const reading = call.readings[index - 1];
          log.warn(
            { device: reading?.device, temp_f: reading?.temp_f, ts: reading?.ts, threshold: s.alertAbove },
            'high temperature',
          );
        }
        if (dead > 0) log.warn({ stream: batch.stream, count: dead }, 'dead-lettered undecodable entries');
        if (late > 0) log.warn({ stream: batch.stream, count: late }, 'routed late readings');
        if (duplicates > 0)
          log.info({ stream: batch.stream, count: duplicates }, 'skipped entries already counted');
        metrics?.recordBatch(batch.entries.length, counted, duplicates, late, dead, alerts.length);
      }),
    );
    metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    this.quietSince = Date.now();
    if (Date.now() - this.lastCloseRound >= CLOSE_ROUND_MS) await this.closeRound(false);
  }

  private async closeRound(force: boolean, progress?: PartitionProgress[]) {
    this.lastCloseRound = Date.now();
    return this.closer!.closeDue(progress ?? (await this.progress(this.partitions)), { force });
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
        const round = await this.closeRound(true, progress);
        if (s.drain && round.openHours === 0 && !round.blockedBy) {
          this.deps.log.info({ partitions: partitions.length }, 'drained');
          void this.stop();
        }
        return;
      }
    }
    await this.closeRound(false);
  }
}
