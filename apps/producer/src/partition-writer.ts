import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backoffMs,
  connectionEpoch,
  DAY_MS,
  type Durability,
  type Logger,
  NO_WAIT,
  type PipelineKeys,
  type Reading,
  type RedisClient,
  shardOfDevice,
  silentLogger,
  waitForReplicas,
} from '@pipe/streams';
import {
  type AddReadings,
  type AddReadingsOutcome,
  addReadingsCommand,
  encodeReadings,
  type LedgerBatch,
} from './add-readings-script.js';
import { describeRedisFailure, formatDuration } from '@pipe/service';
import { GaveUpError, WriteFailedError } from './errors.js';
import { noMetrics, type WriterMetrics } from './metrics.js';
import { whyInvalid, whyOutsideRetention } from './reading-check.js';
import { type Fingerprint, fingerprintOf, WrittenReadings } from './reading-fingerprint.js';
import { isTransient } from './retry-policy.js';

/** One script call to a partition (one batch or several) on its way to Redis. */
interface ScriptCall {
  /** Send order: retries go earliest first. */
  seq: number;
  partition: string;
  started: number;
  send: () => Promise<AddReadingsOutcome[]>;
  /** An attempt went out (it may have landed with its reply lost). */
  sent: boolean;
  /** The attempt that succeeded had one before it. */
  retried?: boolean;
  firstFailure?: number;
  /** Resolves the batch's wait in the retry queue: its outcome, or undefined when it is given up. */
  settle?: (outcomes: AddReadingsOutcome[] | undefined) => void;
}

/** A reading and where it came from (an input line, nothing for simulated ones), for rejection reports. */
export interface WriteItem<S = undefined> {
  reading: Reading;
  source: S;
}

export interface PartitionWriterOptions<S> {
  retentionMs: number;
  /** --wait-replicas: replicas that must hold a batch before it counts as written. */
  durability?: Durability;
  /** `<ts>-*` IDs (RU202 layout): one ordered producer, so batches go one at a time. */
  idFromTime: boolean;
  /** Streams per day (by device), spread over a cluster's masters; 1 = the plain day partition. */
  shards?: number;
  /** How long a batch may keep failing before the writer gives up. */
  giveUpAfterMs: number;
  /**
   * Skip readings an earlier run wrote to their partition (the ledger's fingerprints), so that running
   * the same input again after any interruption writes each reading once. Loads each partition's
   * fingerprints on its first batch; live simulation has nothing to skip and leaves it off.
   */
  skipWritten?: boolean;
  /** Partition batches in flight at once; the bound on memory while Redis is slow or down. */
  maxInFlight?: number;
  onRejected?: (source: S, reason: string) => void;
  /**
   * The batch script's caller, when writers share one connection (the HTTP ingest builds a writer per
   * request): registered once instead of once per writer.
   */
  addReadings?: AddReadings;
  log?: Logger;
  metrics?: WriterMetrics;
  now?: () => number;
}

export interface WriterStats {
  /** Readings this run wrote. */
  written: number;
  /** Readings the ledger showed as written by an earlier run (a re-run of the same input). */
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
  private sent = 0;
  /** Batches waiting to be retried, earliest sent first, and the loop retrying them (see retryInOrder). */
  private readonly retries: ScriptCall[] = [];
  private retrying: Promise<void> | undefined;
  /** Per partition, the readings earlier runs wrote there (skipWritten), loading and loaded. */
  private readonly written = new Map<string, Promise<WrittenReadings>>();
  private readonly loaded = new Map<string, WrittenReadings>();

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

  /**
   * Waits until Redis accepts commands (up to giveUpAfterMs) and registers the script. Credentials or a
   * TLS handshake that Redis refuses end the wait at once; either way the error says why.
   */
  async start(): Promise<void> {
    this.addReadings = this.options.addReadings ?? addReadingsCommand(this.redis);
    const deadline = Date.now() + this.options.giveUpAfterMs;
    let lastError: unknown;
    const onError = (err: unknown) => {
      lastError = err;
    };
    this.redis.on('error', onError);
    try {
      while (this.redis.status !== 'ready') {
        const permanent = lastError !== undefined && describeRedisFailure(lastError).permanent;
        if (permanent || this.redis.status === 'end' || Date.now() >= deadline)
          throw new GaveUpError(this.options.giveUpAfterMs, { cause: lastError });
        await sleep(50);
      }
    } finally {
      this.redis.off('error', onError);
    }
  }

  /** Counts and reports a record refused before it reached write() (unparseable, or by check()). */
  reject(source: S, reason: string): void {
    this.stats.rejected++;
    this.metrics.rejected(1);
    this.options.onRejected?.(source, reason);
  }

  /**
   * Validates and queues a batch; resolves once every partition of it has been handed to Redis (not
   * written: call flush() for that). `checked` skips the schema check for readings that came out of the
   * library's decodeReading. A reading an earlier run wrote is skipped before its retention is checked:
   * it may have aged out since, and it is in its partition all the same.
   * Throws the writer's failure once it has given up.
   */
  write(items: WriteItem<S>[], options: { checked?: boolean } = {}): Promise<void> {
    return this.writeBatches([items], options);
  }

  /**
   * write() for several batches at once (the MQTT messages in hand): each batch's share of a partition
   * keeps its own id in the ledger, so a batch sent again, alone or among others, is recognised, while
   * the shares of a partition go in one script call of up to `readingsPerCall` readings (a share larger
   * than that goes alone).
   */
  async writeBatches(
    batches: readonly WriteItem<S>[][],
    { checked = false, readingsPerCall = Number.POSITIVE_INFINITY } = {},
  ): Promise<void> {
    if (this.failure) throw this.failure;
    const now = this.now();
    // Per partition, each batch's share of it, in batch order.
    const byPartition = new Map<string, WriteItem<S>[][]>();
    for (const items of batches) {
      const shares = new Map<string, WriteItem<S>[]>();
      for (const item of items) {
        const invalid = checked ? undefined : whyInvalid(item.reading);
        if (invalid) {
          this.reject(item.source, invalid);
          continue;
        }
        const partition = this.partitionOf(item.reading);
        const written = this.options.skipWritten
          ? (this.loaded.get(partition) ?? (await this.writtenTo(partition)))
          : undefined;
        // Fingerprinted here only when the partition has readings of earlier runs (else in encodeReadings()).
        if (written && written.size > 0 && this.tookFrom(written, fingerprintOf(item.reading))) continue;
        const reason = whyOutsideRetention(item.reading, now, this.options.retentionMs);
        if (reason) {
          this.reject(item.source, reason);
          continue;
        }
        const share = shares.get(partition);
        if (share) share.push(item);
        else shares.set(partition, [item]);
      }
      for (const [partition, share] of shares) {
        const all = byPartition.get(partition);
        if (all) all.push(share);
        else byPartition.set(partition, [share]);
      }
    }
    for (const [partition, shares] of byPartition) {
      for (const call of packCalls(shares, readingsPerCall)) await this.send(partition, call);
    }
  }

  /** Sends one script call once there is room among the calls in flight. */
  private async send(partition: string, shares: WriteItem<S>[][]): Promise<void> {
    await this.acquire();
    if (this.failure) {
      this.release();
      throw this.failure;
    }
    // An error writePartition does not expect fails the writer: flush() reports it rather than an
    // unhandled rejection once the task has left `tasks`.
    const task = this.writePartition(partition, shares)
      .catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.tasks.delete(task);
        this.release();
      });
    this.tasks.add(task);
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

  /** Why the reading is too old to write now, or undefined. */
  outsideRetention(reading: Reading): string | undefined {
    return whyOutsideRetention(reading, this.now(), this.options.retentionMs);
  }

  /**
   * With skipWritten: whether an earlier run wrote this reading; if so it is counted as already present
   * (once per time it was written), and the caller skips it.
   */
  async takeWritten(
    reading: Reading,
    partition = this.partitionOf(reading),
    fingerprint = fingerprintOf(reading),
  ): Promise<boolean> {
    return this.options.skipWritten === true && this.tookFrom(await this.writtenTo(partition), fingerprint);
  }

  private tookFrom(written: WrittenReadings, fingerprint: Fingerprint): boolean {
    if (written.size === 0 || !written.take(fingerprint)) return false;
    this.stats.alreadyPresent++;
    return true;
  }

  /** The readings earlier runs wrote to a partition: the fingerprints in its ledger, loaded once. */
  private writtenTo(partition: string): Promise<WrittenReadings> {
    let written = this.written.get(partition);
    if (!written) {
      written = this.loadWritten(partition);
      this.written.set(partition, written);
    }
    return written;
  }

  /** Reads a ledger's fingerprints, retrying while Redis is unavailable as a batch would. */
  private async loadWritten(partition: string): Promise<WrittenReadings> {
    const ledger = this.keys.batchLedger(partition);
    const started = Date.now();
    for (let failures = 0; ; failures++) {
      try {
        const fields = await this.redis.hgetallBuffer(ledger);
        const packed = Object.entries(fields)
          .filter(([field]) => field.endsWith(':readings'))
          .map(([, value]) => value);
        const written = new WrittenReadings(packed);
        this.loaded.set(partition, written);
        return written;
      } catch (err) {
        if (!isTransient(err)) this.failure ??= new WriteFailedError(partition, { cause: err });
        else if (Date.now() - started >= this.options.giveUpAfterMs)
          this.failure ??= new GaveUpError(this.options.giveUpAfterMs, { cause: err });
        if (this.failure) throw this.failure;
        await sleep(backoffMs(failures));
      }
    }
  }

  /** One script call: each share its own batch in the ledger. */
  private async writePartition(partition: string, shares: WriteItem<S>[][]): Promise<void> {
    const addReadings = this.addReadings;
    if (!addReadings) throw new Error('PartitionWriter.start() was not called');
    const ledgerBatches = shares.map((share): LedgerBatch => {
      const encoded = encodeReadings(share.map((item) => item.reading));
      return {
        // The batch id stays fixed across retries even if readings drop out, so the ledger recognises an
        // attempt whose reply was lost; content-derived, so re-running the same input is recognised too.
        // 96 bits of the digest: no collision among a partition's batches in practice, and a small ledger field.
        id: createHash('sha1').update(encoded.readings).digest().subarray(0, 12).toString('base64url'),
        expireAt: this.newest(share) + this.options.retentionMs,
        ...encoded,
      };
    });
    const ledger = this.keys.batchLedger(partition);
    const call: ScriptCall = {
      seq: this.sent++,
      partition,
      started: performance.now(),
      sent: false,
      send: async () => {
        call.sent = true;
        const since = connectionEpoch(this.redis);
        const outcomes = await addReadings(partition, ledger, this.options.idFromTime, ledgerBatches);
        // Confirmed only once the replicas hold it: a failover to a replica that lacks the batch would
        // lose readings already counted as written. Too few in time fails the attempt, which is retried
        // (the ledger recognises the batch if it did land).
        await waitForReplicas(this.redis, partition, this.options.durability ?? NO_WAIT, since);
        return outcomes;
      },
    };
    // Straight out, unless earlier batches wait for their retry: sent now, this one would land before them.
    let outcomes = this.retries.length === 0 ? await this.firstAttempt(call) : undefined;
    if (outcomes === undefined && !this.failure) outcomes = await this.retryInOrder(call);
    if (outcomes === undefined) {
      for (const share of shares) this.unconfirmed += share.length;
      return;
    }
    let landedInCall = 0;
    for (const [n, outcome] of outcomes.entries()) {
      const share = shares[n]!;
      if (outcome.expired) {
        const reason = `ts: older than the retention of ${formatDuration(this.options.retentionMs)} by the time Redis took the batch; it would expire as it is written`;
        for (const item of share) this.reject(item.source, reason);
        continue;
      }
      const landed = share.length - outcome.refused.length;
      // Not applied after an earlier attempt of this run: that attempt landed and its reply was lost.
      if (outcome.applied || call.retried) this.stats.written += landed;
      else this.stats.alreadyPresent += landed;
      for (const { index, error } of outcome.refused)
        this.reject(share[index]!.source, `refused by Redis: ${error}`);
      this.stats.partitions.add(partition);
      landedInCall += landed;
    }
    if (outcomes.some((o) => !o.expired)) {
      this.metrics.written(landedInCall);
      this.metrics.batchSeconds((performance.now() - call.started) / 1000);
    }
  }

  /** The batch's first attempt; undefined when it failed and must wait for its turn to retry. */
  private async firstAttempt(batch: ScriptCall): Promise<AddReadingsOutcome[] | undefined> {
    try {
      return await batch.send();
    } catch (err) {
      if (this.failedForGood(batch, err)) return undefined;
      batch.firstFailure = Date.now();
      this.log.warn(
        { partition: batch.partition, err: (err as Error).message },
        'redis unavailable; retrying batch',
      );
      return undefined;
    }
  }

  /**
   * Queues the batch for its retry. Retries go one at a time, earliest sent first: retried on their own
   * timers, a later batch could land before an earlier one, and a reader would see a device's readings
   * out of order. Ordered by send order rather than by when each failure came back: a batch refused at
   * once (not connected) can report before the batches the dropped connection held.
   */
  private retryInOrder(batch: ScriptCall): Promise<AddReadingsOutcome[] | undefined> {
    return new Promise((settle) => {
      batch.settle = settle;
      let at = this.retries.length;
      while (at > 0 && this.retries[at - 1]!.seq > batch.seq) at--;
      this.retries.splice(at, 0, batch);
      this.retrying ??= this.retryQueued().finally(() => {
        this.retrying = undefined;
      });
    });
  }

  /** Retries the earliest queued batch until Redis takes it, then the next; gives all up with the writer. */
  private async retryQueued(): Promise<void> {
    // The queue starts with a failure: pause before the first retry too.
    for (let failures = 1; this.retries.length > 0; ) {
      if (failures > 0) await sleep(backoffMs(failures - 1));
      // Picked after the pause: an earlier batch's failure may have come back meanwhile.
      const batch = this.retries[0]!;
      if (!this.failure) {
        try {
          batch.retried = batch.sent;
          const outcome = await batch.send();
          this.retries.shift();
          batch.settle!(outcome);
          if (failures > 0)
            this.log.info({ partition: batch.partition, failures }, 'batch written after retries');
          failures = 0;
          continue;
        } catch (err) {
          batch.firstFailure ??= Date.now();
          failures++;
          if (!this.failedForGood(batch, err)) continue;
        }
      }
      for (const given of this.retries.splice(0)) given.settle!(undefined);
    }
  }

  /** Whether this failure ends the batch: the writer gave up already, Redis refused it, or time ran out. */
  private failedForGood(batch: ScriptCall, err: unknown): boolean {
    if (this.failure) return true;
    if (!isTransient(err)) {
      this.failure = new WriteFailedError(batch.partition, { cause: err });
      return true;
    }
    if (batch.firstFailure !== undefined && Date.now() - batch.firstFailure >= this.options.giveUpAfterMs) {
      this.failure = new GaveUpError(this.options.giveUpAfterMs, { cause: err });
      return true;
    }
    return false;
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

  private newest(group: readonly WriteItem<S>[]): number {
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

/** Consecutive shares of a partition grouped into script calls of up to `readingsPerCall` readings. */
function packCalls<T>(shares: T[][], readingsPerCall: number): T[][][] {
  const calls: T[][][] = [];
  let call: T[][] = [];
  let readings = 0;
  for (const share of shares) {
    if (call.length > 0 && readings + share.length > readingsPerCall) {
      calls.push(call);
      call = [];
      readings = 0;
    }
    call.push(share);
    readings += share.length;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
