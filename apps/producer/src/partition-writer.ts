import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DAY_MS,
  type Logger,
  type PipelineKeys,
  type Reading,
  type RedisClient,
  shardOfDevice,
  silentLogger,
} from '@pipe/streams';
import { type AddReadings, addReadingsCommand } from './add-readings-script.js';
import { GaveUpError, WriteFailedError } from './errors.js';
import { noMetrics, type WriterMetrics } from './metrics.js';
import { formatDuration, whyNotWritable, whyOutsideRetention } from './reading-check.js';
import { backoffMs, isTransient } from './retry-policy.js';

/** A reading and where it came from (an input line, nothing for simulated ones), for rejection reports. */
export interface WriteItem<S = undefined> {
  reading: Reading;
  source: S;
}

export interface PartitionWriterOptions<S> {
  retentionMs: number;
  /** `<ts>-*` IDs (RU202 layout): one ordered producer, so batches go one at a time. */
  idFromTime: boolean;
  /** Streams per day (by device), spread over a cluster's masters; 1 = the plain day partition. */
  shards?: number;
  /** How long a batch may keep failing before the writer gives up. */
  giveUpAfterMs: number;
  /** Partition batches in flight at once; the bound on memory while Redis is slow or down. */
  maxInFlight?: number;
  onRejected?: (source: S, reason: string) => void;
  log?: Logger;
  metrics?: WriterMetrics;
  now?: () => number;
}

export interface WriterStats {
  /** Readings this run wrote. */
  written: number;
  /** Readings of batches the ledger showed as written by an earlier run (a re-run of the same input). */
  alreadyPresent: number;
  rejected: number;
  /** Partitions written to. */
  partitions: Set<string>;
}

/**
 * Writes readings to their daily partitions. Each call to write() is validated, grouped by partition and
 * sent as one script call per partition (lua/add-readings-2.lua): the XADDs, the expiry push and a ledger
 * entry applied atomically, so a partition never exists without its expiry and a batch whose outcome was
 * lost with the connection can be retried without being written twice. At most `maxInFlight` batches
 * are outstanding: write() waits for room, which is the backpressure that keeps memory bounded.
 */
export class PartitionWriter<S = undefined> {
  readonly stats: WriterStats = { written: 0, alreadyPresent: 0, rejected: 0, partitions: new Set() };
  private readonly maxInFlight: number;
  private readonly log: Logger;
  private readonly metrics: WriterMetrics;
  private readonly now: () => number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly tasks = new Set<Promise<void>>();
  private failure: Error | undefined;
  private unconfirmed = 0;
  private lastDay = Number.NaN;
  private lastPartitions: string[] = [];
  private readonly shards: number;
  private addReadings: AddReadings | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: PipelineKeys,
    private readonly options: PartitionWriterOptions<S>,
  ) {
    this.maxInFlight = options.idFromTime ? 1 : (options.maxInFlight ?? 4);
    this.log = options.log ?? silentLogger;
    this.metrics = options.metrics ?? noMetrics;
    this.now = options.now ?? Date.now;
    this.shards = options.shards ?? 1;
  }

  /** Waits until Redis accepts commands (up to giveUpAfterMs) and registers the script. */
  async start(): Promise<void> {
    this.addReadings = addReadingsCommand(this.redis);
    const deadline = Date.now() + this.options.giveUpAfterMs;
    while (this.redis.status !== 'ready') {
      if (this.redis.status === 'end') throw new GaveUpError(this.options.giveUpAfterMs);
      if (Date.now() >= deadline) throw new GaveUpError(this.options.giveUpAfterMs);
      await sleep(50);
    }
  }

  /**
   * Why a reading would be refused, or undefined; see write()'s `checked`. `decoded` readings came out
   * of the library's decodeReading, which enforces ReadingSchema already, so only retention is left.
   */
  check(reading: Reading, { decoded = false } = {}): string | undefined {
    return decoded
      ? whyOutsideRetention(reading, this.now(), this.options.retentionMs)
      : whyNotWritable(reading, this.now(), this.options.retentionMs);
  }

  /** Counts and reports a record refused before it reached write() (unparseable, or by check()). */
  reject(source: S, reason: string): void {
    this.stats.rejected++;
    this.metrics.rejected(1);
    this.options.onRejected?.(source, reason);
  }

  /**
   * Validates and queues a batch; resolves once every partition of it has been handed to Redis (not
   * written: call flush() for that). `checked` skips validation for items that already passed check().
   * Throws the writer's failure once it has given up.
   */
  async write(items: WriteItem<S>[], { checked = false } = {}): Promise<void> {
    if (this.failure) throw this.failure;
    const now = this.now();
    const byPartition = new Map<string, WriteItem<S>[]>();
    for (const item of items) {
      const reason = checked ? undefined : whyNotWritable(item.reading, now, this.options.retentionMs);
      if (reason) {
        this.reject(item.source, reason);
        continue;
      }
      const partition = this.partitionOf(item.reading);
      const group = byPartition.get(partition);
      if (group) group.push(item);
      else byPartition.set(partition, [item]);
    }
    for (const [partition, group] of byPartition) {
      await this.acquire();
      if (this.failure) {
        this.release();
        throw this.failure;
      }
      const task = this.writePartition(partition, group).finally(() => {
        this.tasks.delete(task);
        this.release();
      });
      this.tasks.add(task);
    }
  }

  /** Waits for every batch in flight; throws when the writer gave up or a batch failed for good. */
  async flush(): Promise<void> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
    if (this.failure) throw this.failure;
  }

  /** Readings handed to write() whose batch failed when the writer gave up: maybe written, maybe not. */
  get unconfirmedCount(): number {
    return this.unconfirmed;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  private async writePartition(partition: string, group: WriteItem<S>[]): Promise<void> {
    const addReadings = this.addReadings;
    if (!addReadings) throw new Error('PartitionWriter.start() was not called');
    const readings = this.encode(group);
    // The batch id stays fixed across retries even if readings drop out, so the ledger recognises an
    // attempt whose reply was lost; content-derived, so re-running the same input is recognised too.
    // 96 bits of the digest: no collision among a partition's batches in practice, and a small ledger field.
    const batchId = createHash('sha1').update(readings).digest().subarray(0, 12).toString('base64url');
    const ledger = this.keys.companionKey(partition, 'batches');
    const started = performance.now();
    let firstFailure: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const expireAt = this.newest(group) + this.options.retentionMs;
        const outcome = await addReadings(partition, ledger, [
          batchId,
          String(expireAt),
          this.options.idFromTime ? '1' : '0',
          readings,
        ]);
        if (outcome.expired) {
          const reason = `ts: older than the retention of ${formatDuration(this.options.retentionMs)} by the time Redis took the batch; it would expire as it is written`;
          for (const item of group) this.reject(item.source, reason);
          return;
        }
        const landed = group.length - outcome.refused.length;
        if (outcome.applied || attempt > 0) this.stats.written += landed;
        else this.stats.alreadyPresent += landed;
        for (const { index, error } of outcome.refused)
          this.reject(group[index]!.source, `refused by Redis: ${error}`);
        this.stats.partitions.add(partition);
        this.metrics.written(landed);
        this.metrics.batchSeconds((performance.now() - started) / 1000);
        if (firstFailure !== undefined)
          this.log.info({ partition, attempts: attempt + 1 }, 'batch written after retries');
        return;
      } catch (err) {
        if (this.failure) {
          this.unconfirmed += group.length;
          return;
        }
        if (!isTransient(err)) {
          this.unconfirmed += group.length;
          this.failure = new WriteFailedError(partition, { cause: err });
          return;
        }
        firstFailure ??= Date.now();
        if (Date.now() - firstFailure >= this.options.giveUpAfterMs) {
          this.unconfirmed += group.length;
          this.failure = new GaveUpError(this.options.giveUpAfterMs, { cause: err });
          return;
        }
        if (attempt === 0)
          this.log.warn({ partition, err: (err as Error).message }, 'redis unavailable; retrying batch');
        // The same batch again, unchanged: the script recognises it if the lost attempt landed, and
        // refuses it whole if its readings aged out of retention meanwhile.
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** The script's readings argument: a JSON array of strings, four per reading (see the Lua header). */
  private encode(group: WriteItem<S>[]): string {
    const values = new Array<string>(group.length * 4);
    let i = 0;
    for (const { reading } of group) {
      values[i++] = reading.device;
      values[i++] = String(reading.ts);
      values[i++] = String(reading.temp_f);
      values[i++] = reading.humidity === undefined ? '' : String(reading.humidity);
    }
    return JSON.stringify(values);
  }

  /**
   * The reading's day partition, or its device's shard of the day (a device always writes to the same
   * shard, so its readings stay in order); remembers the last day's keys: consecutive readings nearly
   * always share it.
   */
  private partitionOf(reading: Reading): string {
    const day = Math.floor(reading.ts / DAY_MS);
    if (day !== this.lastDay) {
      this.lastDay = day;
      this.lastPartitions = Array.from({ length: this.shards }, (_, index) =>
        this.keys.partitionKeyFor(reading.ts, { index, count: this.shards }),
      );
    }
    return this.lastPartitions[shardOfDevice(reading.device, this.shards)]!;
  }

  private newest(group: WriteItem<S>[]): number {
    let newest = 0;
    for (const { reading } of group) if (reading.ts > newest) newest = reading.ts;
    return newest;
  }

  private async acquire(): Promise<void> {
    while (this.inFlight >= this.maxInFlight)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}
