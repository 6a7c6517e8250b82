import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '@pipe/service';
import {
  decodeWindowAverage,
  type HourlyAverage,
  type Logger,
  parseId,
  PipeError,
  type PipelineKeys,
  type RedisClient,
  silentLogger,
  type StreamEntry,
  type WindowAverage,
  withDeadline,
} from '@pipe/streams';
import { alertEvents, alertsAnswer } from './alerts-answer.js';
import { decodeAverageEntries, decodeEntries, MalformedTally } from './average-entries.js';
import { AveragesFeed, NEWEST } from './averages-feed.js';
import { AveragesRange } from './averages-range.js';
import {
  BadRequest,
  NotFound,
  parseAveragesQuery,
  parseDeviceRoute,
  parseResolution,
} from './averages-query.js';
import { DeviceFeeds } from './device-feeds.js';
import { DevicesApi, type DeviceWindowEvent } from './devices-api.js';
import { deviceSeries, fleetSeries } from './series.js';
import { ConnectionHealth, describeError, isReplyError, type RedisHealth } from './connection-health.js';
import { type Asset, loadDashboardAssets } from './dashboard-assets.js';
import { HostAllowList } from './host-allow-list.js';
import { RequestGuard } from './request-guard.js';
import { EVENT_STREAM_HEADERS, type ServerEvent, type SseClient, SseHub } from './sse-hub.js';
import { type PipelineHealth, readPipelineHealth } from './pipeline-health.js';

export interface DashboardServerOptions {
  redis: RedisClient;
  keys: PipelineKeys;
  port: number;
  host: string;
  /** Host header values to answer; by default the bind address and the loopback names, with the port. */
  allowedHosts?: HostAllowList;
  /** Averages per /api/averages answer unless the page asks for fewer. */
  maxAverages?: number;
  /** Devices per /api/devices answer at most. */
  maxDevices?: number;
  /** Device series followed by event streams at once. */
  maxFollowedDevices?: number;
  /** How often followed device series are read for new windows. */
  devicePollMs?: number;
  /** How often the alerts stream is read for new transitions while a page follows it. */
  alertsPollMs?: number;
  heartbeatMs?: number;
  /** How long a status read may take before Redis counts as down. */
  statusTimeoutMs?: number;
  /** Pages poll /api/status; the pipeline's figures are read again when older than this. */
  statusMaxAgeMs?: number;
  logger?: Logger;
}

/** What /api/status answers: Redis reachable or not, the pipeline's figures, the viewer's own. */
export interface DashboardStatus {
  at: number;
  redis: RedisHealth;
  pipeline: PipelineHealth | null;
  viewer: {
    malformedAverages: number;
    recentMalformed: { id: string; reason: string }[];
    streamClients: number;
  };
}

/** An average as the API and the event stream carry it: the decoded value and its stream ID. */
export type AverageJson = HourlyAverage & { id: string };

/** A fleet window of another size than 1h, as /api/averages?resolution= carries it. */
export type WindowAverageJson = WindowAverage & { id: string };

/** What /api/averages answers: hourly averages, or with `?resolution=` the fleet's windows of that size. */
export interface AveragesAnswer<T = AverageJson> {
  from: number | null;
  to: number | null;
  count: number;
  /** Malformed entries in the range, left out. */
  skipped: number;
  averages: T[];
}

class RedisUnavailable extends PipeError {
  override readonly name = 'RedisUnavailable';
  constructor(reason: string) {
    super(`redis unavailable: ${reason}`, 'REDIS_UNAVAILABLE', true);
  }
}

/** Redis answered a read with an error: it is up, this one request failed. */
class RedisCommandFailed extends PipeError {
  override readonly name = 'RedisCommandFailed';
  constructor(reason: string) {
    super(`redis refused the read: ${reason}`, 'REDIS_COMMAND_FAILED');
  }
}

/**
 * `pipe-viewer serve`: the dashboard page and its assets, the JSON API and the server-sent events
 * that push each new average, from one shared blocking read of the averages stream.
 */
export class DashboardServer {
  private readonly log: Logger;
  private readonly range: AveragesRange;
  private readonly devices: DevicesApi;
  private deviceFeeds: DeviceFeeds | undefined;
  private alertFeed: DeviceFeeds | undefined;
  private readonly malformed = new MalformedTally();
  private readonly health: ConnectionHealth;
  private readonly maxAverages: number;
  private readonly statusTimeoutMs: number;
  private readonly statusMaxAgeMs: number;
  private healthRead: { at: number; result: Promise<PipelineHealth | null> } | undefined;
  private hub: SseHub | undefined;
  private feed: AveragesFeed | undefined;
  private feedRun: Promise<void> | undefined;
  private server: Server | undefined;
  private assets = new Map<string, Asset>();
  private started = false;
  private connectedOnce = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: DashboardServerOptions) {
    this.log = options.logger ?? silentLogger;
    this.range = new AveragesRange(options.redis, options.keys.averages);
    this.maxAverages = options.maxAverages ?? 2000;
    this.statusTimeoutMs = options.statusTimeoutMs ?? 2000;
    this.statusMaxAgeMs = options.statusMaxAgeMs ?? 1000;
    this.health = new ConnectionHealth((h) => this.onRedisHealth(h));
    this.devices = new DevicesApi({
      redis: options.redis,
      keys: options.keys,
      read: (read) => this.withRedis(read),
      malformed: this.malformed,
      maxDevices: options.maxDevices ?? 1000,
      maxAverages: this.maxAverages,
      logger: this.log,
    });
  }

  get isRunning(): boolean {
    return this.started && this.stopped === undefined;
  }

  /** Where the server listens (the real port when started with port 0). */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new PipeError('dashboard server is not listening', 'NOT_STARTED');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async start(): Promise<void> {
    if (this.started) throw new PipeError('dashboard server already started', 'ALREADY_RUNNING');
    this.started = true;
    // Before any await: a connection error in between would reach no listener.
    this.health.watch(this.options.redis);
    if (this.options.redis.status === 'ready') this.health.markUp();
    this.assets = await loadDashboardAssets();
    this.hub = new SseHub(this.options.heartbeatMs ?? 15_000, 1000);
    this.feed = new AveragesFeed({
      redis: this.options.redis,
      key: this.options.keys.averages,
      after: NEWEST,
      onEntries: (entries) => this.broadcast(entries),
      logger: this.log,
    });
    this.feedRun = this.feed.run();
    this.deviceFeeds = new DeviceFeeds({
      redis: this.options.redis,
      heartbeatMs: this.options.heartbeatMs ?? 15_000,
      pollMs: this.options.devicePollMs ?? 1000,
      maxFollowed: this.options.maxFollowedDevices ?? 1000,
      logger: this.log,
    });
    // The alerts stream is one more polled series: see openAlertsStream.
    this.alertFeed = new DeviceFeeds({
      redis: this.options.redis,
      heartbeatMs: this.options.heartbeatMs ?? 15_000,
      pollMs: this.options.alertsPollMs ?? 1000,
      maxFollowed: 1,
      logger: this.log,
    });
    let guard: RequestGuard | undefined;
    const server = createServer((req, res) => {
      // Built on the first request: the default allow-list needs the port, known once listening.
      guard ??= new RequestGuard(this.allowedHosts(server), this.log);
      const url = guard.admit(req, res);
      if (url) this.route(req, res, url).catch((err) => this.fail(res, err));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, resolve);
    });
    this.server = server;
    this.log.info({ url: this.url, averages: this.options.keys.averages }, 'dashboard listening');
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.hub?.close();
      await Promise.all([this.feed?.stop(), this.deviceFeeds?.stop(), this.alertFeed?.stop()]);
      await this.feedRun?.catch(() => {});
      this.health.detach();
      const server = this.server;
      if (server) await closeServer(server);
    })();
    return this.stopped;
  }

  /** Redis reachable, with the pipeline's figures, or the reason it is not. */
  async status(): Promise<DashboardStatus> {
    const pipeline = await this.pipelineHealth();
    // The viewer's own figures after the (slow) pipeline read, so that they are as of `at`: a page
    // that loaded averages before `at` finds their malformed entries counted.
    const viewer = {
      malformedAverages: this.malformed.count,
      recentMalformed: this.malformed.latest(),
      streamClients:
        (this.hub?.size ?? 0) + (this.deviceFeeds?.clients ?? 0) + (this.alertFeed?.clients ?? 0),
    };
    return { at: Date.now(), redis: this.health.current, pipeline, viewer };
  }

  /**
   * The pipeline's figures, read at most once per statusMaxAgeMs whatever the number of open pages
   * (each polls, and discovery SCANs the keyspace); null while Redis is down.
   */
  private pipelineHealth(): Promise<PipelineHealth | null> {
    const cached = this.healthRead;
    const reachable = this.health.current.up && this.options.redis.status === 'ready';
    if (cached && reachable && Date.now() - cached.at < this.statusMaxAgeMs) return cached.result;
    const read = { at: Date.now(), result: Promise.resolve<PipelineHealth | null>(null) };
    read.result = this.withRedis(() => readPipelineHealth(this.options.redis, this.options.keys)).catch(
      () => {
        // Only figures are worth sharing: the next request after a failure asks Redis again.
        if (this.healthRead === read) this.healthRead = undefined;
        return null;
      },
    );
    this.healthRead = read;
    return read.result;
  }

  private allowedHosts(server: Server): HostAllowList {
    if (this.options.allowedHosts) return this.options.allowedHosts;
    return HostAllowList.defaults(this.options.host, (server.address() as AddressInfo).port);
  }

  /** A request the guard admitted (GET or HEAD; Node sends no body for HEAD whatever is written). */
  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    switch (url.pathname) {
      case '/api/averages':
        return this.sendJson(res, 200, await this.averages(url.searchParams));
      case '/api/status':
        return this.sendJson(res, 200, await this.status());
      case '/api/alerts':
        return this.sendJson(
          res,
          200,
          await this.withRedis(() => alertsAnswer(this.options.redis, this.options.keys)),
        );
      case '/api/alerts/stream':
        return this.openFeedStream(
          req,
          res,
          this.alertFeed!,
          this.options.keys.alerts,
          alertEvents,
          url.searchParams,
        );
      case '/api/stream':
        return this.openStream(req, res, url.searchParams);
      case '/api/devices':
        return this.sendJson(res, 200, await this.devices.list(url.searchParams));
    }
    const deviceRoute = parseDeviceRoute(url.pathname);
    if (deviceRoute?.what === 'averages') {
      return this.sendJson(res, 200, await this.devices.averages(deviceRoute.device, url.searchParams));
    }
    if (deviceRoute?.what === 'stream')
      return this.openDeviceStream(req, res, deviceRoute.device, url.searchParams);
    const asset = this.assets.get(url.pathname);
    if (!asset) {
      this.sendJson(res, 404, { error: `no such page: ${url.pathname}` });
      return;
    }
    res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  /**
   * `/api/averages?resolution=&from=&to=&limit=`: the fleet's windows starting in [from, to], ISO or
   * ms, oldest first; `temps:averages` for 1h (the default), `temps:averages:<size>` otherwise.
   */
  private async averages(
    params: URLSearchParams,
  ): Promise<AveragesAnswer | AveragesAnswer<WindowAverageJson>> {
    const size = parseResolution(params);
    const { fromMs, toMs, limit } = parseAveragesQuery(params, this.maxAverages);
    const bounds = { from: fromMs ?? null, to: toMs ?? null };
    if (size.label === '1h') {
      const entries = await this.withRedis(() => this.range.between(fromMs, toMs, limit));
      const { averages, skipped } = this.decode(entries);
      return { ...bounds, count: averages.length, skipped, averages };
    }
    const series = fleetSeries(this.options.keys, size);
    const entries = await this.withRedis(() =>
      new AveragesRange(this.options.redis, series.key).between(fromMs, toMs, limit),
    );
    const { rows, malformed } = decodeEntries(entries, decodeWindowAverage);
    this.malformed.record(malformed);
    const averages = rows.map(({ id, value }) => ({ id, ...value }));
    return { ...bounds, count: averages.length, skipped: malformed.length, averages };
  }

  /**
   * `/api/devices/<device>/stream?resolution=`: an event `device-window` per new window of that
   * device and size (id = its stream ID), `health` as on /api/stream; `?after=` or Last-Event-ID
   * replays what came after. A stream of its own rather than events on /api/stream: see DeviceFeeds.
   */
  private openDeviceStream(
    req: IncomingMessage,
    res: ServerResponse,
    device: string,
    params: URLSearchParams,
  ): Promise<void> {
    const size = parseResolution(params);
    const series = deviceSeries(this.options.keys, device, size);
    const toEvents = (entries: StreamEntry[]) =>
      this.devices
        .decodeRows(entries)
        .map(({ id, value }) => deviceWindowEvent({ id, device, resolution: size.label, ...value }));
    return this.openFeedStream(req, res, this.deviceFeeds!, series.key, toEvents, params);
  }

  /**
   * An event stream of one polled stream `key` (a device series, or `/api/alerts/stream`: an `alert`
   * event per transition pipe-alerter writes to the alerts stream), `health` as on /api/stream;
   * `?after=` or Last-Event-ID replays what came after. The alerts get a stream of their own rather
   * than events on /api/stream: EventSource keeps one Last-Event-ID, and IDs of two streams in one
   * sequence would make a reconnect skip (or replay) the other stream's entries; and on a cluster the
   * alerts and the averages live in different slots, out of reach of the one blocking XREAD.
   */
  private async openFeedStream(
    req: IncomingMessage,
    res: ServerResponse,
    feeds: DeviceFeeds,
    key: string,
    toEvents: (entries: StreamEntry[]) => ServerEvent[],
    params: URLSearchParams,
  ): Promise<void> {
    if (answeredHead(req, res)) return;
    const after = resumeAfter(req, params);
    const client = feeds.add(key, toEvents, res, after);
    if (!client) {
      this.sendJson(res, 503, { error: 'too many event streams followed at once; try again later' });
      return;
    }
    client.deliver({ event: 'health', data: JSON.stringify(this.health.current) });
    if (after !== undefined) {
      try {
        for await (const page of new AveragesRange(this.options.redis, key).after(after)) {
          for (const event of toEvents(page)) client.deliver(event);
        }
      } catch (err) {
        this.log.warn({ err, after, key }, 'could not catch an event stream client up');
      }
    }
    client.release();
  }

  /**
   * `/api/stream`: an event per new average. A client that says where it is (`?after=<id>`, or
   * Last-Event-ID when EventSource reconnects) first gets what it missed.
   */
  private async openStream(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    if (answeredHead(req, res)) return;
    const after = resumeAfter(req, params);
    const client = this.hub!.add(res, after);
    client.deliver({ event: 'health', data: JSON.stringify(this.health.current) });
    if (after !== undefined) {
      try {
        await this.catchUp(client, after);
      } catch (err) {
        this.log.warn({ err, after }, 'could not catch a stream client up');
      }
    }
    client.release();
  }

  private async catchUp(client: SseClient, after: string): Promise<void> {
    for await (const page of this.range.after(after)) {
      for (const average of this.decode(page).averages) client.deliver(averageEvent(average));
    }
  }

  private broadcast(entries: StreamEntry[]): void {
    for (const average of this.decode(entries).averages) this.hub?.broadcast(averageEvent(average));
  }

  private decode(entries: StreamEntry[]): { averages: AverageJson[]; skipped: number } {
    const { rows, malformed } = decodeAverageEntries(entries);
    this.malformed.record(malformed);
    for (const { id, reason } of malformed) this.log.debug({ id, reason }, 'skipped malformed average');
    return { averages: rows.map(({ id, average }) => ({ id, ...average })), skipped: malformed.length };
  }

  private onRedisHealth(health: RedisHealth): void {
    if (health.up) this.log.info({}, this.connectedOnce ? 'redis reachable again' : 'redis connected');
    else this.log.warn({ error: health.error }, 'redis unavailable; reconnecting');
    this.connectedOnce ||= health.up;
    this.hub?.broadcast({ event: 'health', data: JSON.stringify(health) });
    this.deviceFeeds?.broadcast({ event: 'health', data: JSON.stringify(health) });
    this.alertFeed?.broadcast({ event: 'health', data: JSON.stringify(health) });
  }

  /** Runs a Redis read when Redis is reachable, bounded in time so a page never waits on an outage. */
  private async withRedis<T>(read: () => Promise<T>): Promise<T> {
    const current = this.health.current;
    if (this.options.redis.status !== 'ready') {
      throw new RedisUnavailable(current.up ? this.options.redis.status : current.error);
    }
    const timeoutMs = this.statusTimeoutMs;
    try {
      const result = await withDeadline(
        read(),
        timeoutMs,
        () => new RedisUnavailable(`no answer within ${timeoutMs} ms`),
      );
      this.health.markUp();
      return result;
    } catch (err) {
      // An error reply is an answer: Redis is up, and every page need not hear of an outage.
      if (isReplyError(err)) {
        this.health.markUp();
        throw new RedisCommandFailed(describeError(err));
      }
      this.health.markDown(err);
      throw err instanceof RedisUnavailable ? err : new RedisUnavailable(describeError(err));
    }
  }

  private sendJson(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof BadRequest) {
      this.sendJson(res, 400, { error: err.message });
    } else if (err instanceof NotFound) {
      this.sendJson(res, 404, { error: err.message });
    } else if (err instanceof RedisUnavailable) {
      this.sendJson(res, 503, { error: err.message });
    } else if (err instanceof RedisCommandFailed) {
      // Redis' own words are enough to act on; a stack trace of ours would add nothing.
      this.log.warn({ error: err.message }, 'dashboard read failed');
      this.sendJson(res, 500, { error: err.message });
    } else {
      this.log.error({ err }, 'request failed');
      this.sendJson(res, 500, { error: describeError(err) });
    }
  }
}

/** An event stream never ends: HEAD gets its headers and the end, and registers no client. True when answered. */
function answeredHead(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'HEAD') return false;
  res.writeHead(200, EVENT_STREAM_HEADERS).end();
  return true;
}

/** Where an event stream client resumes: Last-Event-ID when EventSource reconnects, else `?after=`. */
function resumeAfter(req: IncomingMessage, params: URLSearchParams): string | undefined {
  const lastEventId = req.headers['last-event-id'];
  return validId(typeof lastEventId === 'string' ? lastEventId : params.get('after'));
}

function validId(text: string | null | undefined): string | undefined {
  if (!text) return undefined;
  try {
    parseId(text);
    return text;
  } catch {
    return undefined;
  }
}

function deviceWindowEvent(window: DeviceWindowEvent) {
  return { event: 'device-window', id: window.id, data: JSON.stringify(window) };
}

function averageEvent(average: AverageJson) {
  return { event: 'average', id: average.id, data: JSON.stringify(average) };
}
