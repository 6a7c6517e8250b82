import { ConsumerGroup, isBusyGroup, isNoGroup } from './consumer-group.js';
import { NoGroupError, PipeError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { duplicateForBlocking, type RedisClient } from './redis.js';
import type { StreamEntry } from './stream.js';

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
  /** Entries per read (XREADGROUP COUNT). */
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
  logger?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  private readonly blockMs: number;
  private readonly pendingCheckMs: number;
  private readonly watchdogMs: number;
  private blocking: RedisClient | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private inRead = false;
  /** Streams whose own pending entries must be read (ID 0) before new ones. */
  private readonly pendingFirst = new Set<string>();
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
      if (this.inRead) this.blocking?.disconnect();
      await this.running?.catch(() => {});
      this.blocking?.disconnect();
    })();
    return this.stopped;
  }

  private async loop(): Promise<void> {
    this.blocking = duplicateForBlocking(this.options.redis);
    let failures = 0;
    while (!this.stopping) {
      try {
        const streams = await this.ensureGroups(await this.options.streams());
        if (streams.length === 0) {
          await this.options.onIdle?.();
          await this.pause(this.blockMs);
          continue;
        }
        const batches = await this.readOnce(streams);
        if (batches.length > 0) {
          await this.options.handle(batches);
        } else if (!this.stopping) {
          await this.options.onIdle?.();
        }
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        failures++;
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
        // Whatever was in hand is still pending: read it again first.
        for (const s of this.known) this.pendingFirst.add(s);
        await this.pause(Math.min(100 * 2 ** Math.min(failures, 5), 3000));
      }
    }
  }

  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await sleep(Math.min(50, until - Date.now()));
  }

  /** Creates the group (from the stream's start) on streams seen for the first time. */
  private async ensureGroups(streams: string[]): Promise<string[]> {
    const ready: string[] = [];
    for (const stream of streams) {
      if (!this.known.has(stream)) {
        try {
          // No MKSTREAM: a partition that expired meanwhile must not come back without an expiry.
          await this.options.redis.call('XGROUP', 'CREATE', stream, this.options.group, '0');
        } catch (err) {
          if (err instanceof Error && /requires the key to exist/.test(err.message)) continue;
          if (!isBusyGroup(err)) throw err;
        }
        this.known.add(stream);
        this.pendingFirst.add(stream);
      }
      ready.push(stream);
    }
    for (const stream of this.known) if (!streams.includes(stream)) this.known.delete(stream);
    return ready;
  }

  private async readOnce(streams: string[]): Promise<ConsumerBatch[]> {
    const now = Date.now();
    if (now - this.lastPendingCheck >= this.pendingCheckMs) {
      this.lastPendingCheck = now;
      for (const s of streams) this.pendingFirst.add(s);
    }
    const own = streams.filter((s) => this.pendingFirst.has(s));
    if (own.length > 0) {
      const read = await this.guardedRead(own, '0', undefined);
      const batches: ConsumerBatch[] = [];
      for (const stream of own) {
        const entries = read.get(stream) ?? [];
        if (entries.length === 0) this.pendingFirst.delete(stream);
        else batches.push({ stream, entries });
      }
      if (batches.length > 0) return batches;
    }
    const fresh = await this.guardedRead(streams, '>', this.blockMs);
    return [...fresh].map(([stream, entries]) => ({ stream, entries }));
  }

  private async guardedRead(streams: string[], id: string, block: number | undefined) {
    const group = new ConsumerGroup(this.blocking!, this.options.group, streams, this.options.consumer);
    const limit = (block ?? 0) + this.watchdogMs;
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReadTimeout(limit)), limit);
    });
    const read = group.read({ id, count: this.count, block });
    read.catch(() => {});
    this.inRead = true;
    try {
      return await Promise.race([read, watchdog]);
    } finally {
      this.inRead = false;
      clearTimeout(timer);
    }
  }
}
