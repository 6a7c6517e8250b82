import {
  closeServer,
  createRegistry,
  durabilityOf,
  type Logger,
  startMetricsServer,
  stopOnSignals,
} from '@pipe/service';
import type { HttpConfig } from '../config.js';
import { ReadingsEndpoint } from '../http/readings-endpoint.js';
import { prometheusMetrics } from '../metrics.js';
import { type CommandIo, processIo } from './command-io.js';
import { EXIT } from './exit-codes.js';
import { openWriterConnection } from './writer-session.js';

/** Seconds a client is told to wait (Retry-After) when Redis is away. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Serves POST /v1/readings until SIGINT/SIGTERM (io.handleSignals) or `stop` aborts; the requests in hand
 * are answered first. `onListening` receives the port (tests listen on port 0).
 */
export async function httpCommand(
  config: HttpConfig,
  log: Logger,
  io: CommandIo = processIo,
  { stop, onListening }: { stop?: AbortSignal; onListening?: (port: number) => void } = {},
): Promise<number> {
  const { redis, keys } = openWriterConnection(config, log, 'pipe-producer:http');
  const registry = createRegistry('producer');
  const endpoint = new ReadingsEndpoint(redis, keys, {
    token: config.auth === false ? undefined : config.token,
    maxBodyBytes: config.maxBody,
    maxConcurrent: config.maxConcurrent,
    batchSize: config.batchSize,
    writeTimeoutMs: config.writeTimeout,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    writer: {
      retentionMs: config.retention,
      durability: durabilityOf(config),
      idFromTime: config.idFromTime,
      shards: config.shards,
      metrics: prometheusMetrics(registry),
    },
    registry,
    log,
  });
  if (config.auth === false) log.warn({}, 'accepting requests without a token (--no-auth)');
  let address: { port: number };
  try {
    address = await endpoint.listen(config.port, config.host);
  } catch (err) {
    io.stderr.write(`http: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
    redis.disconnect();
    return EXIT.usage;
  }
  // --metrics-port serves the same probes on a second address (the endpoint's port has them too).
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          registry,
          { redis, isRunning: () => endpoint.isRunning },
          config.metricsHost,
        );
  onListening?.(address.port);
  if (io.handleSignals) stopOnSignals(endpoint, log);
  stop?.addEventListener('abort', () => void endpoint.stop(), { once: true });
  await endpoint.run();
  if (metrics) await closeServer(metrics);
  redis.disconnect();
  return EXIT.ok;
}
