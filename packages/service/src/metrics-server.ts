import { createServer, type Server } from 'node:http';
import type { RedisClient } from '@pipe/streams';
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `/healthz` (the process answers), `/readyz` (Redis answers PING and the service is running) and
 * `/metrics` (Prometheus text), on `host` (`--metrics-host`; no default here, so that no caller
 * exposes the metrics on every interface by forgetting to pass it).
 */
export async function startMetricsServer(
  port: number,
  registry: Registry,
  ready: { redis: RedisClient; isRunning: () => boolean },
  host: string,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (req.url === '/readyz') {
        const redisUp = await Promise.race([
          ready.redis.ping().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
        ]);
        const ok = redisUp && ready.isRunning();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ready: ok, redis: redisUp, running: ready.isRunning() }));
      } else if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      } else {
        res.writeHead(404).end();
      }
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
