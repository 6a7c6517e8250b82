import type { WriterStats } from './partition-writer.js';

/** What a command did, printed at the end as one line (or one JSON object with --json). */
export interface Summary {
  command: string;
  /** Readings written by this run. */
  readings: number;
  /** Readings of batches an earlier run of the same input had written already. */
  alreadyPresent: number;
  rejected: number;
  partitions: number;
  seconds: number;
  readingsPerSecond: number;
  /** Readings whose batch failed when the producer gave up: they may or may not be in Redis. */
  unconfirmed?: number;
  /** Why the run ended early, if it did. */
  stopped?: string;
}

export function summarize(
  command: string,
  stats: WriterStats,
  seconds: number,
  extra: Partial<Summary> = {},
): Summary {
  return {
    command,
    readings: stats.written,
    alreadyPresent: stats.alreadyPresent,
    rejected: stats.rejected,
    partitions: stats.partitions.size,
    seconds: Math.round(seconds * 1000) / 1000,
    readingsPerSecond: seconds > 0 ? Math.round(stats.written / seconds) : 0,
    ...extra,
  };
}

export function formatSummary(s: Summary): string {
  const parts = [
    `${s.command}: ${s.readings} readings written to ${s.partitions} partition${s.partitions === 1 ? '' : 's'}`,
    `in ${s.seconds.toFixed(2)} s (${s.readingsPerSecond} readings/s);`,
    `${s.rejected} rejected`,
  ];
  if (s.alreadyPresent > 0) parts.push(`; ${s.alreadyPresent} already present (written by an earlier run)`);
  if (s.unconfirmed) parts.push(`; ${s.unconfirmed} not confirmed`);
  if (s.stopped) parts.push(`; stopped: ${s.stopped}`);
  return parts.join(' ').replace(/ ;/g, ';');
}
