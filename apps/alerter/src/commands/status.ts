import { activeAlerts, groupsOf, type PipelineKeys, type RedisClient } from '@pipe/streams';
import type { StatusConfig } from '../config.js';

/** Where a command writes: process.stdout in the bin, a collector in a test. */
export interface Output {
  write(text: string): unknown;
}

export interface AlerterStatus {
  lease: { holder: string | null; ttlMs: number };
  active: Awaited<ReturnType<typeof activeAlerts>>;
  partitions: { partition: string; position: string | null; pending: number; lag: number | null }[];
}

/** What `pipe-alerter status` shows: the lease, the alerts firing now, each partition's position and lag. */
export async function alerterStatus(
  redis: RedisClient,
  keys: PipelineKeys,
  group: string,
): Promise<AlerterStatus> {
  const positions = await redis.hgetall(keys.alertPositions);
  const partitions = [];
  for (const partition of Object.keys(positions).sort()) {
    const info = (await groupsOf(redis, partition)).find((g) => g.name === group);
    partitions.push({
      partition,
      position: positions[partition] ?? null,
      pending: info?.pending ?? 0,
      lag: info ? info.lag : null,
    });
  }
  const [holder, ttlMs] = await Promise.all([redis.get(keys.alerterLease), redis.pttl(keys.alerterLease)]);
  return {
    lease: { holder, ttlMs: Math.max(0, ttlMs) },
    active: await activeAlerts(redis, keys),
    partitions,
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** The status as text for a terminal. */
export function renderAlerterStatus(status: AlerterStatus): string {
  const lines = [
    `lease: ${status.lease.holder ? `${status.lease.holder} (${status.lease.ttlMs} ms left)` : 'nobody (no alerter reading)'}`,
    '',
    `active alerts: ${status.active.length}`,
    ...status.active.map(
      (a) => `  ${a.rule}  ${a.device}  since ${iso(a.since)}${a.value ? `  value ${a.value}` : ''}`,
    ),
    '',
    'partitions (position, pending, lag):',
    ...status.partitions.map((p) => `  ${p.partition}  ${p.position ?? '-'}  ${p.pending}  ${p.lag ?? '?'}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** `pipe-alerter status`. */
export async function statusCommand(
  config: StatusConfig,
  redis: RedisClient,
  keys: PipelineKeys,
  out: Output,
): Promise<number> {
  const status = await alerterStatus(redis, keys, config.group);
  out.write(config.json ? `${JSON.stringify(status, null, 2)}\n` : renderAlerterStatus(status));
  return 0;
}
