import { formatDuration } from '@pipe/service';
import type { PipelineStatus } from '@pipe/streams';

/** The report `status` prints as these tables (the library's pipeline status). */
export type StatusReport = PipelineStatus;

const dash = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

/** A duration for a table cell: `-` where there is none. */
const durationOrDash = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));

/** Bytes in binary units: 512B, 1.5KiB, 30.0MiB, 2.00GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)}${units[unit]}`;
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
      ['PARTITION', 'LENGTH', 'UNCOUNTED', 'REMOVED', 'EXPIRES IN', 'FIRST ID', 'LAST ID'],
      report.partitions.map((p) => [
        p.key,
        String(p.length),
        String(p.uncounted),
        // Entries someone deleted from a partition (pipe never does): flagged so it cannot be missed.
        p.removedEntries > 0 ? `${p.removedEntries} (!)` : '0',
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
      durationOrDash(g.oldestPendingIdleMs),
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
    table(
      ['REDIS', 'MEMORY USED', 'MAXMEMORY', 'USED %', 'POLICY', 'EVICTED KEYS'],
      report.memory.map((m) => [
        m.node,
        formatBytes(m.usedBytes),
        m.maxBytes > 0 ? formatBytes(m.maxBytes) : 'no limit',
        m.maxBytes > 0 ? `${Math.round((100 * m.usedBytes) / m.maxBytes)}%` : '-',
        m.policy,
        String(m.evictedKeys),
      ]),
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
