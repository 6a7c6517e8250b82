import type { PipelineKeys } from './keys.js';
import type { RedisClient } from './redis.js';

/** An alert firing now (the alerter's state of one rule and device). */
export interface ActiveAlert {
  rule: string;
  device: string;
  /** Event time the condition began, ms. */
  since: number;
  /** The reading that fired it; empty for no data. */
  value: string;
}

/** A transition of the alerts stream. */
export interface AlertTransition {
  id: string;
  rule: string;
  device: string;
  state: 'firing' | 'resolved';
  since: number;
  at: number;
  /** The reading that caused it (its text as the alerter writes it); empty for no data. */
  value: string;
}

/**
 * The alerts firing now, oldest first, from the alerter's state (`<rule>:<device>` → `f:<since>:<value>`;
 * pending states are not alerts yet). A rule name holds no `:`, so the first one ends it.
 */
export async function activeAlerts(redis: RedisClient, keys: PipelineKeys): Promise<ActiveAlert[]> {
  const states = await redis.hgetall(keys.alertStates);
  const active: ActiveAlert[] = [];
  for (const [field, state] of Object.entries(states)) {
    const firing = /^f:(\d+):(.*)$/.exec(state);
    const split = field.indexOf(':');
    if (!firing || split < 0) continue;
    active.push({
      rule: field.slice(0, split),
      device: field.slice(split + 1),
      since: Number(firing[1]),
      value: firing[2]!,
    });
  }
  return active.sort(
    (a, b) => a.since - b.since || a.rule.localeCompare(b.rule) || a.device.localeCompare(b.device),
  );
}

/** The newest `count` transitions of the alerts stream, newest first. */
export async function recentAlerts(
  redis: RedisClient,
  keys: PipelineKeys,
  count = 20,
): Promise<AlertTransition[]> {
  const entries = await redis.xrevrange(keys.alerts, '+', '-', 'COUNT', count);
  return entries.map(([id, fields]) => decodeAlertTransition(id, fields));
}

/** One entry of the alerts stream as pipe-alerter writes it (`rule device state since at value`). */
export function decodeAlertTransition(id: string, fields: string[]): AlertTransition {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return {
    id,
    rule: f.rule ?? '',
    device: f.device ?? '',
    state: f.state === 'resolved' ? 'resolved' : 'firing',
    since: Number(f.since),
    at: Number(f.at),
    value: f.value ?? '',
  };
}
