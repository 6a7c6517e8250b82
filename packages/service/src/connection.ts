import { readFileSync } from 'node:fs';
import { type ConnectionOptions, connect, PipelineKeys, type RedisClient, redactUrl } from '@pipe/streams';
import { guardAgainstEviction } from './eviction-guard.js';
import type { Logger } from './logger.js';
import { exitWhenRedisUnavailable } from './give-up.js';
import { watchRedisMemory } from './memory-watch.js';
import type { ConnectionConfig } from './schemas.js';

export function connectionOptions(config: ConnectionConfig, connectionName: string): ConnectionOptions {
  const tls =
    config.tlsCa || config.tlsCert || config.tlsKey
      ? {
          ca: config.tlsCa ? readFileSync(config.tlsCa) : undefined,
          cert: config.tlsCert ? readFileSync(config.tlsCert) : undefined,
          key: config.tlsKey ? readFileSync(config.tlsKey) : undefined,
        }
      : undefined;
  return { url: config.redisUrl, clusterNodes: config.clusterNodes, tls, connectionName };
}

/** A command that must end (drain, once, status, a one-shot tail), and how long it waits for Redis. */
export interface BatchCommand {
  /** Program name for the one line on stderr when it gives up. */
  program: string;
  giveUpAfterMs: number;
}

/**
 * The client and the key names of a service, from its validated config. With `batch`, the process
 * exits 3 with one line on stderr when Redis stays unreachable for --give-up-after or refuses the
 * credentials (see exitWhenRedisUnavailable); call `done()` before disconnecting on purpose. Either way
 * a server that may evict pipeline keys stops the process unless --allow-eviction (guardAgainstEviction,
 * which warns on `log` then). A service with a `log` also watches Redis memory (watchRedisMemory): it
 * warns there when Redis evicts keys, and its metrics server exports the figures.
 */
export function openRedis(
  config: ConnectionConfig,
  connectionName: string,
  batch?: BatchCommand,
  log?: Logger,
): { redis: RedisClient; keys: PipelineKeys; done: () => void } {
  const keys = new PipelineKeys(config.prefix);
  const options = connectionOptions(config, connectionName);
  const program = batch?.program ?? connectionName.split(':')[0]!;
  const guardAndWatch = (redis: RedisClient) => {
    guardAgainstEviction(redis, { program, allow: config.allowEviction, log });
    if (log) watchRedisMemory(redis, memoryWatchOptions(config, log));
  };
  if (!batch) {
    const redis = connect(options);
    guardAndWatch(redis);
    return { redis, keys, done: () => {} };
  }
  // Commands wait through reconnects instead of failing after ioredis's 20 retries (about 30 s):
  // how long to wait is --give-up-after's to say, and a failed command would only add stack traces.
  const redis = connect({ ...options, redis: { maxRetriesPerRequest: null } });
  guardAndWatch(redis);
  const done = exitWhenRedisUnavailable(redis, {
    program: batch.program,
    target: describeTarget(config),
    afterMs: batch.giveUpAfterMs,
  });
  return { redis, keys, done };
}

/** What a service's memory watch takes from its config. */
export function memoryWatchOptions(config: ConnectionConfig, log: Logger) {
  return { log, allowEviction: config.allowEviction, readyRatio: config.memoryReadyRatio };
}

/** Where the service connects, as an operator would recognise it; never the password. */
export function describeTarget(config: ConnectionConfig): string {
  return config.clusterNodes?.length
    ? `Redis Cluster at ${config.clusterNodes.join(',')}`
    : `Redis at ${redactUrl(config.redisUrl)}`;
}
