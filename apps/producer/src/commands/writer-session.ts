import type { Server } from 'node:http';
import {
  closeServer,
  type ConnectionConfig,
  connectionOptions,
  createRegistry,
  durabilityOf,
  guardAgainstEviction,
  type Logger,
  memoryWatchOptions,
  startMetricsServer,
  watchRedisMemory,
} from '@pipe/service';
import { connect, PipelineKeys, type RedisClient } from '@pipe/streams';
import type { z } from 'zod';
import type { writerSchema } from '../config.js';
import { noMetrics, prometheusMetrics } from '../metrics.js';
import { PartitionWriter } from '../partition-writer.js';

export type WriterConfig = z.infer<typeof writerSchema>;

export interface WriterSession<S> {
  redis: RedisClient;
  keys: PipelineKeys;
  writer: PartitionWriter<S>;
  close(): Promise<void>;
}

/**
 * The writer's connection fails commands at once while disconnected instead of queueing them
 * (enableOfflineQueue: false, no automatic resend): the writer retries each batch itself, with the
 * ledger to recognise a batch whose reply was lost, and its in-flight window bounds what is pending.
 */
export const WRITER_REDIS_OPTIONS = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 10_000,
} as const;

/**
 * The connection a writer needs (WRITER_REDIS_OPTIONS), with the eviction guard and the memory watch,
 * and the pipeline's key names.
 */
export function openWriterConnection(
  config: ConnectionConfig,
  log: Logger,
  connectionName = 'pipe-producer',
): { redis: RedisClient; keys: PipelineKeys } {
  const redis = connect({ ...connectionOptions(config, connectionName), redis: WRITER_REDIS_OPTIONS });
  redis.on('error', (err) => log.debug({ err: err.message }, 'redis connection error'));
  guardAgainstEviction(redis, { program: 'pipe-producer', allow: config.allowEviction, log });
  watchRedisMemory(redis, memoryWatchOptions(config, log));
  return { redis, keys: new PipelineKeys(config.prefix) };
}

/** Connection, writer and (with --metrics-port) the metrics server of a command that writes readings. */
export async function openWriterSession<S>(
  config: WriterConfig,
  log: Logger,
  onRejected: (source: S, reason: string) => void,
  { skipWritten = false }: { skipWritten?: boolean } = {},
): Promise<WriterSession<S>> {
  const { redis, keys } = openWriterConnection(config, log);
  let server: Server | undefined;
  let metrics = noMetrics;
  if (config.metricsPort !== undefined) {
    const registry = createRegistry('producer');
    metrics = prometheusMetrics(registry);
    server = await startMetricsServer(
      config.metricsPort,
      registry,
      { redis, isRunning: () => !writer.failed },
      config.metricsHost,
    );
  }
  const writer = new PartitionWriter<S>(redis, keys, {
    retentionMs: config.retention,
    durability: durabilityOf(config),
    idFromTime: config.idFromTime,
    shards: config.shards,
    giveUpAfterMs: config.giveUpAfter,
    skipWritten,
    onRejected,
    log,
    metrics,
  });
  return {
    redis,
    keys,
    writer,
    async close() {
      if (server) await closeServer(server);
      redis.disconnect();
    },
  };
}
