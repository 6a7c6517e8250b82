import { ConsumerGroup, type GroupRead, isNoGroup } from './consumer-group.js';
import { NoGroupError, PipeError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { duplicateForBlocking, type RedisClient } from './redis.js';
import type { StreamEntry } from './stream.js';
import { backoffMs, pause, unlessStopped, withDeadline } from './waiting.js';

export interface ConsumerBatch {
  stream: string;
  entries: StreamEntry[];
}

export interface ConsumerLoopOptions {
  /** A client of the caller's; the loop duplicates it for its own blocking connection. */
  redis: RedisClient;
  group: string;
  consumer: string;
  /** The streams to read now; asked every cycle (cache inside when it is costly). */
  streams: () => string[] | Promise<string[]>;
  /** Processes one read's entries; they stay pending (and are read again) unless it acknowledges them. */
  handle: (batches: ConsumerBatch[]) => Promise<void>;
  /** Called when a read for new entries came back empty. */
  onIdle?: () => Promise<void>;
  /**
   * Work a handler may leave in flight: with a backlog (the next batch read ahead), a handler can return
   * once its writes are sent, so that it lays out the next batch while Redis runs them, and wait for
   * their answers in its next call. The loop awaits settle() whenever it has no batch read ahead: before
   * its next read (of its own pending entries too, which would include the batch in flight), before it
   * idles, after a failure and before it stops.
   */
  settle?: () => Promise<void>;
  /**
   * Entries per stream and read (XREADGROUP COUNT). Reading several streams at once, each gets less,
   * down to a tenth, so that one read holds about three times this many entries at most: a ten-day
   * backfill read in one go keeps memory and per-batch pauses low, and its batches overlap with the
   * prefetch.
   */
  count?: number;
  /** BLOCK of each read for new entries, ms. Also bounds how stale the consumer's liveness looks. */
  blockMs?: number;
  /**
   * How often the consumer re-reads its own pending entries (ID 0). This is how it learns of entries
   * the reaper claimed for it (see README, "Reclaim protocol").
   */
  pendingCheckMs?: number;
  /** Extra time a blocking read may take beyond blockMs before the connection is presumed hung. */
  watchdogMs?: number;
  /**
   * While the handler works on a full batch, read the next one (without blocking) on the loop's own
   * connection, so the next batch is at hand when the handler finishes. A stop still handles it.
   */
  prefetch?: boolean;
  logger?: Logger;
  /**
   * When iterations keep failing for this long (Redis refusing writes when out of memory, say), run()
   * rejects with the last error instead of retrying for ever: for batch jobs that must end. Unset: retry.
   */
  giveUpAfterMs?: number;
}

class ReadTimeout extends PipeError {
  override readonly name = 'ReadTimeout';
  constructor(ms: number) {
    super(`blocking read did not settle within ${ms} ms`, 'READ_TIMEOUT', true);
  }
}

/**
 * The consumer loop the services share: a dedicated blocking connection, own pending entries first,
 * batch reads, a prompt stop that lets the batch in hand finish, and recovery from restarts, lost
 * groups and the ioredis blocking read that never settles after a reconnect.
 */
export class ConsumerLoop {
  private readonly log: Logger;
  private readonly count: number;
  private lastReadStreams = 1;
  private readonly blockMs: number;
  private readonly pendingCheckMs: number;
  private readonly watchdogMs: number;
  private blocking: RedisClient | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private inRead = false;
  /** Aborted at stop(): ends a retry pause, and a read that disconnect() cannot settle. */
  private readonly stopSignal = new AbortController();
  /** Aborted at stop() when the loop's connection is down: then no read in flight can finish. */
  private readonly outageStopSignal = new AbortController();
  /**
   * Streams whose own pending entries must be read before new ones, with the last ID this pass over
   * them has reached (`0` at its start). Paging from there, rather than from 0 each time, means an
   * entry the handler leaves pending (for the reaper) cannot shut out new entries.
   */
  private readonly pendingFrom = new Map<string, string>();
  /**
   * Streams whose pass over own pending entries a failed iteration started: read without counting a
   * delivery (ConsumerGroup.readOwnPendingQuietly). The entries failed for Redis's sake (a failover, a
   * refused write, a read of another stream that failed), not their own: counting each retry as a
   * delivery would take a healthy batch to --max-deliveries within seconds of retries, and the reaper
   * (or a drain adopting it) would dead-letter it as poison. A pass that a start or the periodic check
   * begins counts as ever: a poison entry that kills the process is still counted at each restart.
   */
  private readonly quiet = new Set<string>();
  private readonly known = new Set<string>();
  private lastPendingCheck = 0;

  constructor(private readonly options: ConsumerLoopOptions) {
    this.log = options.logger ?? silentLogger;
    this.count = options.count ?? 1000;
    this.blockMs = options.blockMs ?? 1000;
    this.pendingCheckMs = options.pendingCheckMs ?? 2000;
    this.watchdogMs = options.watchdogMs ?? 5000;
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopping;
  }

  /** Runs until stop(); resolves when the loop has ended. Refuses to run twice. */
  run(): Promise<void> {
    if (this.running) throw new PipeError('consumer loop is already running', 'ALREADY_RUNNING');
    this.running = this.loop();
    return this.running;
  }

  /** Ends a blocking read at once, lets a batch in hand finish, closes the loop's connection. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopSignal.abort();
      if (this.blocking && this.blocking.status !== 'ready') this.outageStopSignal.abort();
      if (this.inRead) this.blocking?.disconnect();
      await this.running?.catch(() => {});
      this.blocking?.disconnect();
    })();
    return this.stopped;
  }

  private async loop(): Promise<void> {
    this.blocking = duplicateForBlocking(this.options.redis);
    let failures = 0;
    let failingSince: number | undefined;
    let next: Promise<ConsumerBatch[]> | undefined;
    while (!this.stopping || next) {
      try {
        const streams = await this.ensureGroups(await this.options.streams());
        if (streams.length === 0 && !next) {
          await this.options.onIdle?.();
          await pause(this.blockMs, this.stopSignal.signal);
          continue;
        }
        const batches = next ? await next : await this.readOnce(streams);
        next = undefined;
        if (batches.length > 0) {
          if (
            this.options.prefetch &&
            !this.stopping &&
            this.isFull(batches) &&
            this.ownPending(streams).length === 0
          ) {
            next = this.readFresh(streams, undefined);
            next.catch(() => {});
          }
          await this.options.handle(batches);
          if (!next) await this.options.settle?.();
        } else {
          // A read ahead that came back empty (a backlog of a whole number of batches): what the last
          // batch left in flight settles before the loop idles or stops.
          await this.options.settle?.();
          if (!this.stopping) await this.options.onIdle?.();
        }
        failures = 0;
        failingSince = undefined;
      } catch (err) {
        next = undefined;
        // Whatever the handler left in flight settles before its entries are read again.
        await this.options.settle?.().catch(() => {});
        if (this.stopping) break;
        failures++;
        failingSince ??= Date.now();
        const { giveUpAfterMs } = this.options;
        if (giveUpAfterMs !== undefined && Date.now() - failingSince >= giveUpAfterMs) {
          this.blocking?.disconnect();
          throw err;
        }
        if (err instanceof NoGroupError || isNoGroup(err)) {
          // The server lost the group (restart without persistence, expiry, reset): create it again.
          this.known.clear();
          this.log.warn({ err }, 'consumer group missing; recreating');
          continue;
        }
        if (err instanceof ReadTimeout) {
          this.log.warn({ err }, 'blocking read hung; replacing its connection');
          this.blocking?.disconnect();
          this.blocking = duplicateForBlocking(this.options.redis);
        } else {
          this.log.error({ err, failures }, 'consumer loop iteration failed; retrying');
        }
        // Whatever was in hand is still pending: read it again first, without counting a delivery.
        for (const s of this.known) {
          this.pendingFrom.set(s, '0');
          this.quiet.add(s);
        }
        await pause(backoffMs(failures, { capMs: 3000 }), this.stopSignal.signal);
      }
    }
  }

  /** Creates the group (from the stream's start) on streams seen for the first time. */
  private async ensureGroups(streams: string[]): Promise<string[]> {
    const ready: string[] = [];
    for (const stream of streams) {
      if (!this.known.has(stream)) {
        try {
          // No MKSTREAM: a partition that expired meanwhile must not come back without an expiry.
          await new ConsumerGroup(this.options.redis, this.options.group, [stream]).create({
            mkstream: false,
          });
        } catch (err) {
          if (err instanceof Error && /requires the key to exist/.test(err.message)) continue;
          throw err;
        }
        this.known.add(stream);
        this.pendingFrom.set(stream, '0');
      }
      ready.push(stream);
    }
    for (const stream of this.known) {
      if (!streams.includes(stream)) {
        this.known.delete(stream);
        this.pendingFrom.delete(stream);
        this.quiet.delete(stream);
      }
    }
    return ready;
  }

  private async readOnce(streams: string[]): Promise<ConsumerBatch[]> {
    const now = Date.now();
    if (now - this.lastPendingCheck >= this.pendingCheckMs) {
      this.lastPendingCheck = now;
      for (const s of streams) if (!this.pendingFrom.has(s)) this.pendingFrom.set(s, '0');
    }
    // Page through this consumer's own pending entries until a page has something for the handler.
    for (let own = this.ownPending(streams); own.length > 0; own = this.ownPending(streams)) {
      const read = await this.readOwnPending(own);
      const batches: ConsumerBatch[] = [];
      for (const stream of own) {
        const entries = read.get(stream) ?? [];
        const last = entries[entries.length - 1];
        if (!last) {
          this.pendingFrom.delete(stream);
          this.quiet.delete(stream);
          continue;
        }
        this.pendingFrom.set(stream, last.id);
        const live = await this.dropDeleted(stream, entries);
        if (live.length > 0) batches.push({ stream, entries: live });
      }
      if (batches.length > 0) return batches;
    }
    return this.readFresh(streams, this.blockMs);
  }

  /** A page of own pending entries of each stream after pendingFrom: quietly where a failure began the pass. */
  private async readOwnPending(own: string[]): Promise<GroupRead> {
    const counted = own.filter((s) => !this.quiet.has(s));
    const quiet = own.filter((s) => this.quiet.has(s));
    const read: GroupRead =
      counted.length > 0
        ? await this.guardedRead(counted, Object.fromEntries(this.pendingFrom), undefined)
        : new Map();
    if (quiet.length > 0) {
      const group = new ConsumerGroup(this.blocking!, this.options.group, quiet, this.options.consumer);
      const count = this.countPerStream(own.length);
      const limit = this.watchdogMs;
      const pages = withDeadline(
        Promise.all(
          quiet.map((s) => group.readOwnPendingQuietly(s, { after: this.pendingFrom.get(s), count })),
        ),
        limit,
        () => new ReadTimeout(limit),
      );
      // As a non-blocking read: abandoned at stop() only when the connection is down.
      const got = await unlessStopped(pages, this.outageStopSignal.signal);
      for (const [i, s] of quiet.entries()) read.set(s, got?.[i] ?? []);
    }
    return read;
  }

  /** New entries (`>`), blocking up to `block` ms when given. */
  private async readFresh(streams: string[], block: number | undefined): Promise<ConsumerBatch[]> {
    const fresh = await this.guardedRead(streams, '>', block);
    return [...fresh].map(([stream, entries]) => ({ stream, entries }));
  }

  /** A batch at the read's COUNT suggests a backlog worth reading ahead. */
  private isFull(batches: ConsumerBatch[]): boolean {
    const count = this.countPerStream(this.lastReadStreams);
    return batches.some((b) => b.entries.length >= count);
  }

  /** COUNT for a read of `streams` streams (see options.count). */
  private countPerStream(streams: number): number {
    const shared = Math.ceil((3 * this.count) / Math.max(1, streams));
    return Math.min(this.count, Math.max(Math.ceil(this.count / 10), shared));
  }

  private ownPending(streams: string[]): string[] {
    return streams.filter((s) => this.pendingFrom.has(s));
  }

  /**
   * A pending entry deleted from its stream (trimmed, expired partition) comes back without fields;
   * there is nothing left to process, so it is acknowledged here instead of reaching the handler.
   */
  private async dropDeleted(stream: string, entries: StreamEntry[]): Promise<StreamEntry[]> {
    const deleted = entries.filter((e) => e.fields.length === 0).map((e) => e.id);
    if (deleted.length === 0) return entries;
    await new ConsumerGroup(this.options.redis, this.options.group, [stream]).ack(stream, ...deleted);
    this.log.warn({ stream, count: deleted.length }, 'acknowledged pending entries deleted from the stream');
    return entries.filter((e) => e.fields.length > 0);
  }

  private async guardedRead(
    streams: string[],
    id: string | Record<string, string>,
    block: number | undefined,
  ): Promise<GroupRead> {
    // Checked in the same tick as the read starts, so stop() either sees inRead or this sees stopping.
    if (this.stopping && block !== undefined) return new Map();
    const group = new ConsumerGroup(this.blocking!, this.options.group, streams, this.options.consumer);
    const limit = (block ?? 0) + this.watchdogMs;
    this.lastReadStreams = streams.length;
    const read = withDeadline(
      group.read({ id, count: this.countPerStream(streams.length), block }),
      limit,
      () => new ReadTimeout(limit),
    );
    // Only a blocking read is worth cutting short at stop(); a quick one (a prefetch) finishes and is
    // handled. During an outage disconnect() does not settle a read waiting for the connection, blocking
    // or not (after a hung read the loop re-reads its own pending entries), so stop() abandons it.
    this.inRead = block !== undefined;
    try {
      const stop = this.inRead ? this.stopSignal.signal : this.outageStopSignal.signal;
      return (await unlessStopped(read, stop)) ?? new Map();
    } finally {
      this.inRead = false;
    }
  }
}
