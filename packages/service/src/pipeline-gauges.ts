import { type PipelineKeys, pipelineStatus, type RedisClient } from '@pipe/streams';
import { Gauge, type Registry } from 'prom-client';

/**
 * Gauges read from Redis at scrape time (one pipelineStatus per scrape): per partition and group the
 * lag, pending count and oldest pending age, and the sizes of the dead-letter, late, alert and averages
 * streams. A scrape while Redis is down leaves them unset rather than failing /metrics.
 */
export function registerPipelineGauges(registry: Registry, redis: RedisClient, keys: PipelineKeys): void {
  let snapshot: ReturnType<typeof pipelineStatus> | undefined;
  // One Redis read serves every gauge of a scrape.
  const status = () => {
    snapshot ??= pipelineStatus(redis, keys).finally(() => setTimeout(() => (snapshot = undefined), 500));
    return snapshot.catch(() => undefined);
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, s: Awaited<ReturnType<typeof pipelineStatus>>) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const s = await status();
        if (s) fill(this, s);
      },
    });
  const perGroup =
    (
      pick: (
        g: Awaited<ReturnType<typeof pipelineStatus>>['partitions'][number]['groups'][number],
      ) => number | null,
    ) =>
    (g: Gauge, s: Awaited<ReturnType<typeof pipelineStatus>>) => {
      for (const p of s.partitions) {
        for (const group of p.groups) {
          const value = pick(group);
          if (value !== null) g.set({ partition: p.key, group: group.name }, value);
        }
      }
    };
  gauge(
    'pipe_group_lag',
    'Entries not yet delivered to the group (absent when Redis cannot tell)',
    ['partition', 'group'],
    perGroup((g) => g.lag),
  );
  gauge(
    'pipe_group_pending',
    'Entries delivered to the group and not yet acknowledged',
    ['partition', 'group'],
    perGroup((g) => g.pending),
  );
  gauge(
    'pipe_group_oldest_pending_seconds',
    'Idle time of the oldest pending entry of the group',
    ['partition', 'group'],
    perGroup((g) => (g.oldestPendingIdleMs === null ? null : g.oldestPendingIdleMs / 1000)),
  );
  gauge(
    'pipe_partition_removed_entries',
    'Entries removed from a partition by XDEL, XTRIM or XADD MAXLEN/MINID (pipe never removes readings)',
    ['partition'],
    (g, s) => {
      for (const p of s.partitions) g.set({ partition: p.key }, p.removedEntries);
    },
  );
  gauge('pipe_stream_length', 'Length of the pipeline streams', ['stream'], (g, s) => {
    g.set({ stream: 'dead_letters' }, s.deadLetters);
    g.set({ stream: 'late' }, s.late);
    g.set({ stream: 'alerts' }, s.alerts);
    g.set({ stream: 'averages' }, s.averages);
    for (const p of s.partitions) g.set({ stream: p.key }, p.length);
  });
}
