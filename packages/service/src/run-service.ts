import { type PipelineKeys, type RedisClient, redactUrl } from '@pipe/streams';
import type { Registry } from 'prom-client';
import { openRedis } from './connection.js';
import { stopOnSignals } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createRegistry, startMetricsServer } from './metrics-server.js';
import type { ConnectionConfig } from './schemas.js';

/** A service's core as runService drives it. */
export interface RunnableService {
  /** Resolves once the service has stopped: after stop(), or when its work is done (a drain). */
  run(): Promise<void>;
  /** Finishes the work in hand; run() then resolves. */
  stop(): Promise<void>;
  /** For /readyz. */
  readonly isRunning: boolean;
}

/** What runService hands the core it builds. */
export interface ServiceContext<C extends ConnectionConfig> {
  config: C;
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  /** The registry its metrics server exports: the core's own metrics go here. */
  registry: Registry;
}

export interface ServiceOptions<C extends ConnectionConfig> {
  /** `aggregator`: the logs' `service` field and the metrics' `service` label. */
  service: string;
  /** `pipe-aggregator`: how the line of a give-up on stderr starts. */
  program: string;
  /** The client's name in CLIENT LIST. */
  connectionName: string;
  /** For a run that must end (a drain): exit 3 once Redis stays unreachable this long (see openRedis). */
  giveUpAfterMs?: number;
  /**
   * Log each error of the connection (every reconnect attempt of an outage) as a warning; default true.
   * A core that reports Redis going and coming back itself (the viewer's, once per change) turns it off.
   */
  logConnectionErrors?: boolean;
  /** Builds the core; nothing of it may await (a signal or connection error could come in between). */
  create(context: ServiceContext<C>): RunnableService;
  /**
   * The exit status a failed run() ends with, having written its line on stderr; undefined: the error
   * ends the process as any unexpected one (exitOnStartupError: the stack, exit 1).
   */
  exitCodeOf?(err: unknown, log: Logger): number | undefined;
}

/**
 * Runs a long-running service as a process: logger, Redis client (with the eviction guard and memory
 * watch), metrics server, SIGTERM/SIGINT stopping it (exit 0, see stopOnSignals), then the exit status
 * of its run. Configuration is the caller's: a ConfigError thrown before this exits 1 with every problem.
 */
export async function runService<C extends ConnectionConfig>(
  config: C,
  options: ServiceOptions<C>,
): Promise<void> {
  const log = createLogger(options.service, config.logLevel);
  const batch =
    options.giveUpAfterMs === undefined
      ? undefined
      : { program: options.program, giveUpAfterMs: options.giveUpAfterMs };
  const { redis, keys, done } = openRedis(config, options.connectionName, batch, log);
  if (options.logConnectionErrors !== false) {
    redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  }
  log.info({ redisUrl: redactUrl(config.redisUrl), prefix: config.prefix }, 'connecting');
  const registry = createRegistry(options.service);
  const service = options.create({ config, redis, keys, log, registry });
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          registry,
          { redis, isRunning: () => service.isRunning },
          config.metricsHost,
        );
  stopOnSignals(service, log);
  try {
    await service.run();
  } catch (err) {
    const code = options.exitCodeOf?.(err, log);
    if (code === undefined) throw err;
    process.exitCode = code;
  } finally {
    done();
    metrics?.close();
    redis.disconnect();
  }
  log.flush?.();
  process.exit();
}

/**
 * Runs a command that must end (status, a dead-letter command, one sweep) with a connection of its
 * own, closed whatever happens. When Redis stays unreachable for --give-up-after or refuses the
 * credentials, the process exits 3 with one line on stderr (exitWhenRedisUnavailable).
 */
export async function runBatchCommand<T>(
  config: ConnectionConfig & { giveUpAfter: number },
  options: { program: string; connectionName: string; log?: Logger },
  command: (redis: RedisClient, keys: PipelineKeys) => Promise<T>,
): Promise<T> {
  const { redis, keys, done } = openRedis(
    config,
    options.connectionName,
    { program: options.program, giveUpAfterMs: config.giveUpAfter },
    options.log,
  );
  try {
    // A cluster client knows its masters (where partitions are SCANned) only once it is ready; the
    // first command waits for that.
    await redis.ping();
    return await command(redis, keys);
  } finally {
    done();
    redis.disconnect();
  }
}
