import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { probeHandler } from '@pipe/service';
import { type Logger, type PipelineKeys, type RedisClient, silentLogger } from '@pipe/streams';
import { Counter, type Registry } from 'prom-client';
import { type AddReadings, addReadingsCommand } from '../add-readings-script.js';
import { GaveUpError } from '../errors.js';
import { type RecordWriterOptions, writeRecords } from '../write-records.js';
import { parseReadingsBody } from './request-body.js';

export const READINGS_PATH = '/v1/readings';

/** Client states in which Redis is known to be unreachable (a connection lost, not one being made). */
const DOWN = new Set(['reconnecting', 'close', 'end']);

export interface ReadingsEndpointSettings {
  /** The bearer token requests must carry; undefined only with --no-auth. */
  token: string | undefined;
  /** Bytes of one request body; more is answered 413. */
  maxBodyBytes: number;
  /** Requests written at once; the others wait with their bodies unread (TCP pushes back on the client). */
  maxConcurrent: number;
  /** Readings per script call within a request. */
  batchSize: number;
  /** How long a request's write may keep retrying while Redis is away before it is answered 503. */
  writeTimeoutMs: number;
  /** Retry-After of a 503, in seconds. */
  retryAfterSeconds: number;
  writer: RecordWriterOptions;
  /** Where /metrics comes from (the writer's metrics and the request counter go there). */
  registry: Registry;
  log?: Logger;
}

/**
 * `POST /v1/readings` over node:http, on the producer's write path: each request gets its own
 * PartitionWriter (validation, retention, shards, the batch script with its ledger), and is answered 200
 * only once its batches are confirmed. The batch id is derived from a partition batch's content, so a
 * request retried after a 503, a timeout or a lost reply writes each reading once: the ledger recognises
 * the batches that did land. Serves /healthz, /readyz and /metrics beside it. No I/O until listen().
 */
export class ReadingsEndpoint {
  private server: Server | undefined;
  private addReadings: AddReadings | undefined;
  private probes: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined;
  private readonly tokenDigest: Buffer | undefined;
  private readonly log: Logger;
  private readonly requests: Counter<'code'>;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly handling = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  private stopped!: () => void;
  private readonly done = new Promise<void>((resolve) => {
    this.stopped = resolve;
  });

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: PipelineKeys,
    private readonly settings: ReadingsEndpointSettings,
  ) {
    this.tokenDigest = settings.token === undefined ? undefined : digest(settings.token);
    this.log = settings.log ?? silentLogger;
    this.requests = new Counter({
      name: 'pipe_producer_http_requests_total',
      help: 'Requests to POST /v1/readings, by status code',
      labelNames: ['code'],
      registers: [settings.registry],
    });
  }

  get isRunning(): boolean {
    return this.server !== undefined && this.stopping === undefined;
  }

  /** Starts serving; resolves with the address (port 0 picks a free one). */
  async listen(port: number, host: string): Promise<AddressInfo> {
    if (this.server) throw new Error('ReadingsEndpoint.listen() was called twice');
    this.addReadings = addReadingsCommand(this.redis);
    this.probes = probeHandler(this.settings.registry, {
      redis: this.redis,
      isRunning: () => this.isRunning,
    });
    const server = createServer((req, res) => {
      const task = this.handle(req, res)
        .catch((err: unknown) => {
          this.log.error({ err }, 'request failed');
          if (!res.headersSent) reply(res, 500, { error: (err as Error).message });
        })
        .finally(() => this.handling.delete(task));
      this.handling.add(task);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    const address = server.address() as AddressInfo;
    this.log.info({ host: address.address, port: address.port }, 'listening');
    return address;
  }

  /** Resolves once stop() has finished. */
  run(): Promise<void> {
    return this.done;
  }

  /** Stops accepting requests, answers the ones in hand (their writes confirmed), closes every connection. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const server = this.server;
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        while (this.handling.size > 0) await Promise.all([...this.handling]);
        server.closeAllConnections();
        await closed;
      }
      this.stopped();
    })();
    return this.stopping;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url?.split('?')[0];
    if (path !== READINGS_PATH) {
      if (!(await this.probes!(req, res))) res.writeHead(404).end();
      return;
    }
    const code = await this.ingest(req, res);
    this.requests.inc({ code: String(code) });
  }

  /** Answers a request to READINGS_PATH; returns its status. */
  private async ingest(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (req.method !== 'POST') return reply(res, 405, { error: 'POST only' }, { allow: 'POST' });
    if (!this.authorized(req)) {
      return reply(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.settings.maxBodyBytes) return this.tooLarge(req, res);
    // Known to be away: answered at once. While the first connection is being made, the writer waits for
    // it (up to --write-timeout).
    if (DOWN.has(this.redis.status) || this.stopping) return this.unavailable(res, 'Redis is not reachable');
    await this.acquire();
    try {
      const body = await readBody(req, this.settings.maxBodyBytes);
      if (body === undefined) return this.tooLarge(req, res);
      const parsed = parseReadingsBody(body.toString('utf8'));
      if (!parsed.ok) return reply(res, 400, { error: parsed.reason });
      const outcome = await writeRecords(
        this.redis,
        this.keys,
        {
          writer: this.settings.writer,
          addReadings: this.addReadings!,
          giveUpAfterMs: this.settings.writeTimeoutMs,
          batchSize: this.settings.batchSize,
          log: this.log,
        },
        parsed.records,
      );
      return reply(res, 200, outcome);
    } catch (err) {
      if (err instanceof GaveUpError) return this.unavailable(res, 'Redis did not take the readings in time');
      throw err;
    } finally {
      this.release();
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return match !== null && timingSafeEqual(digest(match[1]!.trim()), this.tokenDigest);
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse): number {
    // The rest of the body is discarded as it comes, and the connection closes after the answer.
    req.resume();
    return reply(
      res,
      413,
      { error: `body larger than ${this.settings.maxBodyBytes} bytes` },
      { connection: 'close' },
    );
  }

  private unavailable(res: ServerResponse, error: string): number {
    return reply(res, 503, { error }, { 'retry-after': String(this.settings.retryAfterSeconds) });
  }

  private async acquire(): Promise<void> {
    while (this.active >= this.settings.maxConcurrent)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

/** The body, or undefined once it exceeds `max` bytes (what came is dropped; the rest is discarded). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function reply(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): number {
  res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
  return code;
}

const digest = (token: string) => createHash('sha256').update(token).digest();
