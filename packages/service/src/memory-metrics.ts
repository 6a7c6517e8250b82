import type { RedisMemory } from '@pipe/streams';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MemoryWatch } from './memory-watch.js';

/**
 * The Redis memory figures of a watch, read fresh at scrape time (one read shared by the scrape):
 * per master (label `node`, host:port) memory used, maxmemory and keys evicted, and whether the
 * service runs under --allow-eviction on an evicting policy. A scrape while Redis does not answer
 * leaves the per-node series out rather than repeating old figures.
 */
export function registerMemoryMetrics(registry: Registry, watch: MemoryWatch): void {
  const perNode = (pick: (m: RedisMemory) => number) =>
    async function collect(this: Gauge | Counter) {
      this.reset();
      for (const m of (await watch.read()) ?? []) {
        const value = pick(m);
        if (!Number.isFinite(value)) continue;
        if (this instanceof Counter) this.inc({ node: m.node }, value);
        else this.set({ node: m.node }, value);
      }
    };
  new Gauge({
    name: 'pipe_redis_memory_used_bytes',
    help: 'Memory Redis uses (INFO memory used_memory), per master',
    labelNames: ['node'],
    registers: [registry],
    collect: perNode((m) => m.usedBytes),
  });
  new Gauge({
    name: 'pipe_redis_memory_max_bytes',
    help: 'Redis maxmemory per master; 0 means no limit',
    labelNames: ['node'],
    registers: [registry],
    collect: perNode((m) => m.maxBytes),
  });
  // A counter: Redis counts from its start (or CONFIG RESETSTAT), which rate() reads as a reset.
  new Counter({
    name: 'pipe_redis_evicted_keys_total',
    help: 'Keys Redis evicted under memory pressure (INFO stats evicted_keys), per master',
    labelNames: ['node'],
    registers: [registry],
    collect: perNode((m) => m.evictedKeys),
  });
  new Gauge({
    name: 'pipe_redis_eviction_allowed',
    help: '1 while the service runs with --allow-eviction on a server whose maxmemory-policy can evict pipeline keys',
    registers: [registry],
    async collect() {
      await watch.read();
      this.set(watch.evictionAllowed ? 1 : 0);
    },
  });
}
