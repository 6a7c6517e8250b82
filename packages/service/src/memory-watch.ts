import { type RedisClient, type RedisMemory, redisMemory } from '@pipe/streams';
import { canEvictPipelineKeys } from './eviction-guard.js';
import type { Logger } from './logger.js';

export interface MemoryWatchOptions {
  /** Where a growing `evicted_keys` is reported; nowhere without one. */
  log?: Logger;
  /** --allow-eviction: exported as pipe_redis_eviction_allowed while the policy can evict. */
  allowEviction?: boolean;
  /** --memory-ready-ratio: the share of maxmemory above which the service reports not ready. */
  readyRatio?: number;
  intervalMs?: number;
}

/** The default of --memory-ready-ratio (env MEMORY_READY_RATIO). */
export const DEFAULT_MEMORY_READY_RATIO = 0.9;

const watches = new WeakMap<RedisClient, MemoryWatch>();

/**
 * Reads each master's memory every few seconds (and whenever /metrics or /readyz asks) so that
 * eviction while running is never silent: a warning each time `evicted_keys` grows, the figures for
 * the metrics, and whether memory is past the readiness threshold. Under `noeviction` a full server
 * refuses writes loudly; under an evicting policy (--allow-eviction) this is the only trace.
 */
export class MemoryWatch {
  /** The last figures read; undefined until Redis first answered. */
  latest: RedisMemory[] | undefined;
  readonly readyRatio: number;
  private reading: Promise<RedisMemory[] | undefined> | undefined;
  private readonly evictedBefore = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: MemoryWatchOptions = {},
  ) {
    this.readyRatio = options.readyRatio ?? DEFAULT_MEMORY_READY_RATIO;
    // unref: a one-shot command (a drain, an ingest) ends when its work does, not when the watch would.
    this.timer = setInterval(() => void this.read(), options.intervalMs ?? 5000).unref();
    redis.on('ready', () => void this.read());
    redis.once('end', () => this.stop());
    if (redis.status === 'ready') void this.read();
  }

  /**
   * The figures now; one read shared by concurrent callers. Undefined while Redis is not connected
   * (no command is queued behind an outage) or does not answer.
   */
  read(): Promise<RedisMemory[] | undefined> {
    if (this.redis.status !== 'ready') return Promise.resolve(undefined);
    this.reading ??= redisMemory(this.redis)
      .then(
        (memory) => {
          this.noteEvictions(memory);
          this.latest = memory;
          return memory;
        },
        (err) => {
          this.options.log?.debug({ err }, 'could not read Redis memory');
          return undefined;
        },
      )
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  /** 1 while the service runs on purpose (--allow-eviction) on a server whose policy can evict. */
  get evictionAllowed(): boolean {
    return Boolean(this.options.allowEviction && this.latest?.some((m) => canEvictPipelineKeys(m.policy)));
  }

  /** Why the service is not ready: a master above the threshold (none without a maxmemory). */
  overThreshold(memory: RedisMemory[]): string | undefined {
    const full = memory.filter((m) => m.maxBytes > 0 && m.usedBytes > this.readyRatio * m.maxBytes);
    if (full.length === 0) return undefined;
    const percent = (n: number) => `${Math.round(n * 100)}%`;
    return full
      .map(
        (m) =>
          `Redis ${m.node} uses ${percent(m.usedBytes / m.maxBytes)} of maxmemory (${m.usedBytes} of ${m.maxBytes} bytes), above --memory-ready-ratio ${this.readyRatio}`,
      )
      .join('; ');
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Once per growth of evicted_keys (and at the first reading when the server had evicted already). */
  private noteEvictions(memory: RedisMemory[]): void {
    for (const m of memory) {
      const before = this.evictedBefore.get(m.node) ?? 0;
      this.evictedBefore.set(m.node, m.evictedKeys);
      // A smaller count is a restarted server or CONFIG RESETSTAT: the new count is the baseline.
      if (m.evictedKeys > before) {
        this.options.log?.warn(
          { node: m.node, evicted: m.evictedKeys - before, evictedKeys: m.evictedKeys, policy: m.policy },
          'Redis evicted keys: readings may have been lost',
        );
      }
    }
  }
}

/**
 * Starts watching the memory of the server(s) behind `redis`, once per client: the service's metrics
 * server (memoryWatchOf) exports and checks what this watch reads.
 */
export function watchRedisMemory(redis: RedisClient, options: MemoryWatchOptions): MemoryWatch {
  let watch = watches.get(redis);
  if (!watch) {
    watch = new MemoryWatch(redis, options);
    watches.set(redis, watch);
  }
  return watch;
}

/** The client's watch; one with the defaults (no log, no override) when the service started none. */
export function memoryWatchOf(redis: RedisClient): MemoryWatch {
  return watchRedisMemory(redis, {});
}
