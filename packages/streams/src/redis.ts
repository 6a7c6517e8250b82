import { PipeError } from './errors.js';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** A single server or a cluster; every part of pipe takes either. */
export type RedisClient = Redis | Cluster;

export interface TlsFiles {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** How to reach Redis: a URL (redis:// or rediss://) or cluster seeds. Apps build this from env/flags. */
export interface ConnectionOptions {
  url?: string;
  /** `host:port` seeds; selects cluster mode. */
  clusterNodes?: string[];
  tls?: TlsFiles;
  /** Name shown in CLIENT LIST. */
  connectionName?: string;
  /** ioredis options merged last (tests, tuning). */
  redis?: RedisOptions;
}

/**
 * Connects to Redis. `blocking` connections (for XREAD/XREADGROUP BLOCK) never give up on a command
 * (maxRetriesPerRequest: null) because a blocking read must survive reconnects rather than fail.
 */
export function connect(options: ConnectionOptions, { blocking = false } = {}): RedisClient {
  const base: RedisOptions = {
    connectionName: options.connectionName,
    maxRetriesPerRequest: blocking ? null : 20,
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...(options.tls ? { tls: { ...options.tls, rejectUnauthorized: true } } : {}),
    ...options.redis,
  };
  if (options.clusterNodes?.length) {
    const startup = options.clusterNodes.map((seed) => {
      const [host, port] = seed.split(':');
      return { host: host || '127.0.0.1', port: Number(port) || 6379 };
    });
    const clusterOptions: ClusterOptions = {
      redisOptions: base,
      slotsRefreshTimeout: 2000,
      // While a failover settles, nodes disagree for a moment about who owns a slot: retried at once,
      // a command used up its 16 redirections in milliseconds, and once kept failing for a minute
      // (ioredis#1863). Spaced out, its redirections outlast the disagreement; and the slot map is
      // refreshed now and then, not only on a redirection.
      retryDelayOnMoved: 100,
      slotsRefreshInterval: 5000,
      enableReadyCheck: true,
    };
    return new Cluster(startup, clusterOptions);
  }
  const url = options.url ?? 'redis://127.0.0.1:6379';
  return new Redis(url, base);
}

/** A second connection with the same settings, for a blocking reader (BullMQ's pattern). */
export function duplicateForBlocking(client: RedisClient): RedisClient {
  const duplicate =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          redisOptions: { ...client.options.redisOptions, maxRetriesPerRequest: null },
        })
      : client.duplicate({ maxRetriesPerRequest: null });
  // Its connection errors are the parent's, whose listeners (the services' logs) hear them; without a
  // listener ioredis would print "Unhandled error event" for each during an outage.
  duplicate.on('error', (err: Error) => {
    if (client.listenerCount('error') > 0) client.emit('error', err);
  });
  return duplicate;
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The URL with any password replaced, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}

/** Masters of a cluster, or the client itself: where to SCAN for keys. */
export function scanTargets(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

const CLUSTER_SLOTS = 16_384;

/**
 * scanTargets, when it must not miss a key: on a cluster, the masters of all 16384 slots as the client
 * knows them, or a retryable CLUSTER_INCOMPLETE error when some slots have no known master (during a
 * failover, between a master's death and its replica's promotion). A SCAN of the masters that are left
 * would silently miss every key of the others: the aggregator would close hours without a partition.
 */
export function mastersOfAllSlots(client: RedisClient): Redis[] {
  if (!isCluster(client)) return [client];
  const masters = new Map(client.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const used = new Set<Redis>();
  let missing = 0;
  let firstMissing = -1;
  for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
    const node = masters.get(client.slots[slot]?.[0] ?? '');
    if (node) used.add(node);
    else if (missing++ === 0) firstMissing = slot;
  }
  if (missing > 0) {
    // The client refreshes its slot map on a MOVED or a lost node; one taken while the replica was not
    // yet promoted keeps the hole until then, so ask for a fresh one for the retry.
    client.refreshSlotsCache();
    throw new PipeError(
      `${missing} cluster slots (the first ${firstMissing}) have no known master (a failover?); retry`,
      'CLUSTER_INCOMPLETE',
      true,
    );
  }
  return [...used];
}

/**
 * Resolves once a cluster client is ready: it knows its masters (for SCAN) only then, so node-wide
 * operations wait for this first. A single-server client is left to its own queueing and retries.
 */
export async function whenReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (!isCluster(client) || client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
