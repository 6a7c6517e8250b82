import { readFileSync } from 'node:fs';
import { type ConnectionOptions, connect, PipelineKeys, type RedisClient } from '@pipe/streams';
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

/** The client and the key names of a service, from its validated config. */
export function openRedis(
  config: ConnectionConfig,
  connectionName: string,
): { redis: RedisClient; keys: PipelineKeys } {
  return { redis: connect(connectionOptions(config, connectionName)), keys: new PipelineKeys(config.prefix) };
}
