import {
  backoffMs,
  duplicateForBlocking,
  type Logger,
  pause,
  PipeError,
  type RedisClient,
  silentLogger,
  Stream,
  type StreamEntry,
  unlessStopped,
  withDeadline,
} from '@pipe/streams';
import { AveragesRange } from './averages-range.js';
import { ConnectionHealth, type RedisHealth } from './connection-health.js';

export interface AveragesFeedOptions {
  /** A client of the caller's; the feed duplicates it for its own blocking connection. */
  redis: RedisClient;
  /** The averages stream. */
  key: string;
  /** Deliver entries after this ID (exclusive), or NEWEST: only what is written from the first read on. */
  after: string;
  /** Receives each read's entries, oldest first. An error here is logged; the feed moves on. */
  onEntries: (entries: StreamEntry[]) => void | Promise<void>;
  /** Called once per change: Redis unreachable, reachable again. */
  onHealth?: (health: RedisHealth) => void;
  /** BLOCK of each XREAD, ms. New entries arrive as soon as they are written; this only bounds a read. */
  blockMs?: number;
  /** Extra time a blocking read may take beyond blockMs before its connection is presumed hung. */
  watchdogMs?: number;
  count?: number;
  logger?: Logger;
}

class FeedReadTimeout extends PipeError {
  override readonly name = 'FeedReadTimeout';
  constructor(ms: number) {
    super(`blocking read of the averages did not settle within ${ms} ms`, 'READ_TIMEOUT', true);
  }
}

/** Resolved on the first successful contact with Redis, so a feed may start while Redis is down. */
export const NEWEST = 'newest';

/**
 * Follows the averages stream with a blocking XREAD on a dedicated connection: what `tail --follow`
 * prints and what the dashboard's server-sent events push. It keeps going through Redis outages and
 * replaces a connection whose blocking read never settles (the ioredis failure after a reconnect).
 */
export class AveragesFeed {
  private readonly log: Logger;
  private readonly blockMs: number;
  private readonly watchdogMs: number;
  private readonly count: number;
  private readonly health: ConnectionHealth;
  private blocking: RedisClient | undefined;
  private cursor: string;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: AveragesFeedOptions) {
    this.log = options.logger ?? silentLogger;
    this.blockMs = options.blockMs ?? 1000;
    this.watchdogMs = options.watchdogMs ?? 3000;
    this.count = options.count ?? 500;
    this.cursor = options.after;
    this.health = new ConnectionHealth((health) => options.onHealth?.(health), true);
  }

  /** The ID of the last entry delivered (or the starting point). */
  get position(): string {
    return this.cursor;
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopping.signal.aborted;
  }

  get connection(): RedisHealth {
    return this.health.current;
  }

  /** Runs until stop(). Refuses to run twice. */
  run(): Promise<void> {
    if (this.running) throw new PipeError('averages feed is already running', 'ALREADY_RUNNING');
    this.running = this.loop();
    return this.running;
  }

  /** Ends the blocking read at once and closes the feed's connection. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      this.dropConnection();
      await this.running?.catch(() => {});
    })();
    return this.stopped;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        this.blocking ??= this.openConnection();
        if (this.cursor === NEWEST) {
          const range = new AveragesRange(this.blocking, this.options.key);
          const newest = await this.untilStopOrHang(range.newestId(), this.watchdogMs);
          if (newest === undefined) break;
          this.cursor = newest;
        }
        const entries = await this.untilStopOrHang(
          this.readNext(this.blocking),
          this.blockMs + this.watchdogMs,
        );
        if (entries === undefined) break;
        this.health.markUp();
        failures = 0;
        if (entries.length === 0) continue;
        this.cursor = entries[entries.length - 1]!.id;
        try {
          await this.options.onEntries(entries);
        } catch (err) {
          this.log.error({ err, count: entries.length }, 'averages handler failed');
        }
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        failures++;
        // One warning per outage; the retries during it are debug noise.
        const level = this.health.current.up ? 'warn' : 'debug';
        this.health.markDown(err);
        if (err instanceof FeedReadTimeout) {
          this.log[level]({ err }, 'blocking read hung; replacing its connection');
          this.dropConnection();
        } else {
          this.log[level]({ err, failures }, 'averages read failed; retrying');
        }
        await pause(backoffMs(failures), this.stopping.signal);
      }
    }
  }

  private openConnection(): RedisClient {
    const blocking = duplicateForBlocking(this.options.redis);
    this.health.watch(blocking);
    return blocking;
  }

  private dropConnection(): void {
    this.health.detach();
    this.blocking?.disconnect();
    this.blocking = undefined;
  }

  private readNext(blocking: RedisClient): Promise<StreamEntry[]> {
    return new Stream(blocking, this.options.key).read({
      lastId: this.cursor,
      count: this.count,
      block: this.blockMs,
    });
  }

  /**
   * `read`'s result; a FeedReadTimeout when it has not settled within `limitMs` (its connection hung);
   * undefined at once on stop(): a read queued on a connection that is reconnecting may only settle
   * with the watchdog, and a stop must not wait for that.
   */
  private untilStopOrHang<T>(read: Promise<T>, limitMs: number): Promise<T | undefined> {
    const bounded = withDeadline(read, limitMs, () => new FeedReadTimeout(limitMs));
    return unlessStopped(bounded, this.stopping.signal);
  }
}
