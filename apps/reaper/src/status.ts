import {
  ConsumerGroup,
  type ConsumerInfo,
  discoverPartitions,
  groupsOf,
  type PipelineKeys,
  type RedisClient,
  Stream,
} from '@pipe/streams';

export interface GroupStatus {
  name: string;
  consumers: ConsumerInfo[];
  pending: number;
  /** The smallest pending ID and how long it has been idle; null when nothing is pending. */
  oldestPendingId: string | null;
  oldestPendingIdleMs: number | null;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
  entriesRead: number | null;
  lastDeliveredId: string;
}

export interface PartitionStatus {
  key: string;
  length: number;
  /** PTTL: ms left, -1 without expiry. */
  ttlMs: number;
  /** PEXPIRETIME: absolute expiry in ms, null without expiry. */
  expiresAt: number | null;
  firstId: string | null;
  lastId: string | null;
  groups: GroupStatus[];
}

export interface StatusReport {
  at: number;
  /** The active reaper (lease holder) and the lease's remaining ms; null when no reaper holds it. */
  reaperLease: { holder: string; ttlMs: number } | null;
  partitions: PartitionStatus[];
  deadLetters: number;
  late: number;
  alerts: number;
  averages: number;
}

/** Reads the pipeline's state: every live partition with its groups, and the side streams' sizes. */
export async function collectStatus(redis: RedisClient, keys: PipelineKeys): Promise<StatusReport> {
  const partitions: PartitionStatus[] = [];
  for (const key of await discoverPartitions(redis, keys)) {
    const stream = new Stream(redis, key);
    const [info, ttlMs, expireTime] = await Promise.all([
      stream.info(),
      stream.ttl(),
      redis.call('PEXPIRETIME', key) as Promise<number>,
    ]);
    const groups: GroupStatus[] = [];
    for (const g of await groupsOf(redis, key)) {
      const group = new ConsumerGroup(redis, g.name, [key]);
      const [consumers, [oldest]] = await Promise.all([
        group.consumers(key),
        group.pending(key, { count: 1 }),
      ]);
      groups.push({
        name: g.name,
        consumers,
        pending: g.pending,
        oldestPendingId: oldest?.id ?? null,
        oldestPendingIdleMs: oldest?.idleMs ?? null,
        lag: g.lag,
        entriesRead: g.entriesRead,
        lastDeliveredId: g.lastDeliveredId,
      });
    }
    partitions.push({
      key,
      length: info.length,
      ttlMs,
      expiresAt: expireTime >= 0 ? expireTime : null,
      firstId: info.firstEntry?.id ?? null,
      lastId: info.lastEntry?.id ?? null,
      groups,
    });
  }
  const length = (k: string) => new Stream(redis, k).length();
  const [deadLetters, late, alerts, averages] = await Promise.all([
    length(keys.deadLetters),
    length(keys.late),
    length(keys.alerts),
    length(keys.averages),
  ]);
  const [holder, leaseTtl] = await Promise.all([redis.get(keys.reaperLease), redis.pttl(keys.reaperLease)]);
  const reaperLease = holder === null ? null : { holder, ttlMs: leaseTtl };
  return { at: Date.now(), reaperLease, partitions, deadLetters, late, alerts, averages };
}

const dash = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

/** ms as a short human duration: 850ms, 12.3s, 4m05s, 2h10m, 3d04h. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The report as tables for a terminal. */
export function renderStatus(report: StatusReport): string {
  const out: string[] = [];
  out.push(
    table(
      ['PARTITION', 'LENGTH', 'EXPIRES IN', 'FIRST ID', 'LAST ID'],
      report.partitions.map((p) => [
        p.key,
        String(p.length),
        p.ttlMs >= 0 ? formatDuration(p.ttlMs) : 'never',
        dash(p.firstId),
        dash(p.lastId),
      ]),
    ),
  );
  const groupRows = report.partitions.flatMap((p) =>
    p.groups.map((g) => [
      p.key,
      g.name,
      String(g.consumers.length),
      String(g.pending),
      formatDuration(g.oldestPendingIdleMs),
      dash(g.lag),
      g.consumers.map((c) => `${c.name}(${c.pending}, idle ${formatDuration(c.idleMs)})`).join(' '),
    ]),
  );
  out.push(
    '',
    table(
      ['PARTITION', 'GROUP', 'CONSUMERS', 'PENDING', 'OLDEST IDLE', 'LAG', 'CONSUMER (PENDING, IDLE)'],
      groupRows,
    ),
  );
  out.push(
    '',
    table(
      ['STREAM', 'LENGTH'],
      [
        ['dead letters', String(report.deadLetters)],
        ['late', String(report.late)],
        ['alerts', String(report.alerts)],
        ['averages', String(report.averages)],
      ],
    ),
  );
  out.push(
    '',
    report.reaperLease
      ? `active reaper: ${report.reaperLease.holder} (lease ${formatDuration(report.reaperLease.ttlMs)} left)`
      : 'active reaper: none',
  );
  return out.join('\n');
}
