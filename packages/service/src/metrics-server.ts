import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type RedisClient, withDeadline } from '@pipe/streams';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerMemoryMetrics } from './memory-metrics.js';
import { memoryWatchOf } from './memory-watch.js';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Resolves to `fallback` when `promise` fails or takes longer than `ms`: a probe must answer quickly. */
const within = <T>(promise: Promise<T>, ms: number, fallback: T) =>
  withDeadline(promise, ms, () => new Error(`no answer within ${ms} ms`)).catch(() => fallback);

/** What /readyz asks besides Redis: whether the service is running. */
export interface Readiness {
  redis: RedisClient;
  isRunning: () => boolean;
}

/**
 * A handler of `/healthz` (the process answers), `/readyz` (Redis answers PING, its memory is below
 * --memory-ready-ratio of maxmemory on every master, and the service is running) and `/metrics`
 * (Prometheus text, with the Redis memory figures of the client's memory watch). It answers those three
 * paths and returns true, or leaves the request alone and returns false: a server with paths of its
 * own (the producer's HTTP ingest) serves the probes beside them.
 */
export function probeHandler(
  registry: Registry,
  ready: Readiness,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const memory = memoryWatchOf(ready.redis);
  registerMemoryMetrics(registry, memory);
  return async (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const redisUp = await within(
        ready.redis.ping().then(
          () => true,
          () => false,
        ),
        1000,
        false,
      );
      // A memory figure Redis does not give in time leaves readiness to the other checks.
      const figures = redisUp ? await within(memory.read(), 1000, undefined) : undefined;
      const memoryFull = figures && memory.overThreshold(figures);
      const running = ready.isRunning();
      const ok = redisUp && running && !memoryFull;
      const reason = !redisUp
        ? 'Redis does not answer'
        : !running
          ? 'the service is not running'
          : memoryFull || undefined;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready: ok, redis: redisUp, running, memory: figures ?? null, reason }));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    } else {
      return false;
    }
    return true;
  };
}

/**
 * Serves the probes of probeHandler on `host` (`--metrics-host`; no default here, so that no caller
 * exposes the metrics on every interface by forgetting to pass it).
 */
export async function startMetricsServer(
  port: number,
  registry: Registry,
  ready: Readiness,
  host: string,
): Promise<Server> {
  const probes = probeHandler(registry, ready);
  const server = createServer(async (req, res) => {
    try {
      if (!(await probes(req, res))) res.writeHead(404).end();
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

/**
 * Stops a server at once: close() alone waits for every keep-alive connection to go (a scraper that
 * polls every 100 ms keeps one open), which held a producer that had finished its work for ever.
 */
export function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}
