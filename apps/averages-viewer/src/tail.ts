import {
  type Logger,
  parseId,
  pause,
  PipeError,
  type PipelineKeys,
  type RedisClient,
  silentLogger,
  type StreamEntry,
  HOUR_WINDOW,
  unlessStopped,
} from '@pipe/streams';
import { decodeEntries } from './average-entries.js';
import { AveragesFeed } from './averages-feed.js';
import { AveragesRange } from './averages-range.js';
import { ConnectionHealth, type RedisHealth } from './connection-health.js';
import { fleetSeries, type ResultSeries } from './series.js';

export interface TailOptions {
  redis: RedisClient;
  keys: PipelineKeys;
  /** Whose position this is: a restarted viewer of the same name resumes after what it last showed. */
  name: string;
  /**
   * What to show: the fleet's hourly averages by default; a device's or another size's windows (the
   * position is then kept per series: see PipelineKeys.viewerPosition).
   */
  series?: { results: ResultSeries; name: string };
  /** Start with the newest N averages instead of the saved position. */
  last?: number;
  /** Start with the hours beginning at or after this time (ms) instead of the saved position. */
  fromMs?: number;
  follow: boolean;
  json: boolean;
  /** Where averages go (stdout). */
  write: (line: string) => void;
  /** Where a person reads what happened: skipped entries, empty stream, outages (stderr). */
  notice: (line: string) => void;
  blockMs?: number;
  watchdogMs?: number;
  logger?: Logger;
}

/** Viewer positions outlive the averages they point at (about five days) by a margin, then go. */
const POSITION_TTL_S = 30 * 24 * 3600;
const RETRY_MS = 1000;

/**
 * `pipe-viewer tail`: prints the averages after the viewer's saved position (or the newest N, or
 * those from a time), saves the position after each batch shown, and with `follow` keeps printing
 * new ones as they are written.
 */
export class AveragesTail {
  private readonly log: Logger;
  private readonly range: AveragesRange;
  private readonly results: ResultSeries;
  private feed: AveragesFeed | undefined;
  private running: Promise<void> | undefined;
  /** Aborted by stop(): a history read queued behind an outage must not hold a stop up. */
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;
  private skippedCount = 0;

  constructor(private readonly options: TailOptions) {
    this.log = options.logger ?? silentLogger;
    this.results = options.series?.results ?? fleetSeries(options.keys, HOUR_WINDOW);
    this.range = new AveragesRange(options.redis, this.results.key);
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopping.signal.aborted;
  }

  /** Resolves when the history is shown (or, following, after stop()). Refuses to run twice. */
  run(): Promise<void> {
    if (this.running) throw new PipeError('tail is already running', 'ALREADY_RUNNING');
    this.running = this.execute();
    return this.running;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      await this.feed?.stop();
      await this.running?.catch(() => {});
    })();
    return this.stopped;
  }

  private async execute(): Promise<void> {
    // A one-shot tail says nothing about reconnecting: if Redis stays away, the process's give-up line
    // (exit 3) is the one line that says so.
    const report = this.options.follow ? (h: RedisHealth) => this.reportHealth(h) : undefined;
    const health = new ConnectionHealth(report, true).watch(this.options.redis);
    let cursor: string;
    try {
      cursor = await this.showHistoryRetrying(health);
    } finally {
      health.detach();
    }
    if (this.skippedCount > 0 && !this.options.follow) {
      this.options.notice(`skipped ${this.skippedCount} malformed average entries`);
    }
    if (!this.options.follow || this.stopping.signal.aborted) return;
    this.feed = new AveragesFeed({
      redis: this.options.redis,
      key: this.results.key,
      after: cursor,
      onEntries: (entries) => this.show(entries),
      onHealth: (h) => this.reportHealth(h),
      blockMs: this.options.blockMs,
      watchdogMs: this.options.watchdogMs,
      logger: this.log,
    });
    await this.feed.run();
  }

  /** Following, an outage at start is waited out; a one-shot tail fails once ioredis gives up. */
  private async showHistoryRetrying(health: ConnectionHealth): Promise<string> {
    for (;;) {
      try {
        return (await unlessStopped(this.showHistory(), this.stopping.signal)) ?? '0-0';
      } catch (err) {
        if (!this.options.follow || this.stopping.signal.aborted) throw err;
        health.markDown(err);
        await pause(RETRY_MS, this.stopping.signal);
      }
    }
  }

  private async showHistory(): Promise<string> {
    const start = await this.startingPoint();
    let cursor = start;
    for await (const page of this.range.after(start)) {
      await this.show(page);
      cursor = page[page.length - 1]!.id;
    }
    if (cursor === start) {
      const key = this.results.key;
      const waiting = this.options.follow ? '; waiting for new ones' : '';
      if ((await this.range.length()) === 0) this.options.notice(`no averages in ${key} yet${waiting}`);
      else this.options.notice(`no new averages in ${key} after ${start}${waiting}`);
    }
    return cursor;
  }

  /** The exclusive ID to show entries after. */
  private async startingPoint(): Promise<string> {
    const { last, fromMs } = this.options;
    if (last !== undefined) return this.range.beforeNewest(last);
    // Just below the first ID of the millisecond, so the hour starting exactly at fromMs is included.
    if (fromMs !== undefined) return fromMs === 0 ? '0-0' : `${fromMs - 1}-${Number.MAX_SAFE_INTEGER}`;
    const saved = await this.options.redis.get(this.positionKey);
    if (saved === null) return '0-0';
    try {
      parseId(saved);
      return saved;
    } catch {
      this.options.notice(
        `ignoring the unreadable position ${JSON.stringify(saved)} of ${this.options.name}`,
      );
      return '0-0';
    }
  }

  private async show(entries: StreamEntry[]): Promise<void> {
    const { rows, malformed } = decodeEntries(entries, this.results.decode);
    const bad = new Map(malformed.map((m) => [m.id, m.reason]));
    for (const { id } of entries) {
      const reason = bad.get(id);
      if (reason !== undefined) {
        this.skippedCount++;
        this.options.notice(`skipped malformed average ${id}: ${reason}`);
      }
    }
    for (const { value } of rows) {
      this.options.write(this.options.json ? this.results.jsonLine(value) : this.results.describe(value));
    }
    await this.savePosition(entries[entries.length - 1]!.id);
  }

  private get positionKey(): string {
    return this.options.keys.viewerPosition(this.options.name, this.options.series?.name);
  }

  private async savePosition(id: string): Promise<void> {
    try {
      await this.options.redis.set(this.positionKey, id, 'EX', POSITION_TTL_S);
    } catch (err) {
      // What was shown stays shown; a restart in this state may repeat a few lines.
      this.log.warn({ err, id }, 'could not save viewer position');
    }
  }

  private reportHealth(health: RedisHealth): void {
    if (health.up) this.options.notice('redis reachable again');
    else this.options.notice(`redis unavailable (${health.error}); reconnecting`);
  }
}
