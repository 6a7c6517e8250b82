import type { AlertTransition, PipelineKeys, RedisClient } from '@pipe/streams';

export type Transition = Omit<AlertTransition, 'id'>;

/**
 * A transition as pipe-alerter writes it: the entry on the alerts stream and the state machine beside
 * it (firing `f:<since>:<value>`, removed on resolve), in one transaction as its script does.
 */
export async function writeTransition(
  redis: RedisClient,
  keys: PipelineKeys,
  t: Transition,
): Promise<string> {
  const field = `${t.rule}:${t.device}`;
  const tx = redis.multi();
  if (t.state === 'firing') tx.hset(keys.alertStates, field, `f:${t.since}:${t.value}`);
  else tx.hdel(keys.alertStates, field);
  tx.xadd(
    keys.alerts,
    '*',
    'rule',
    t.rule,
    'device',
    t.device,
    'state',
    t.state,
    'since',
    t.since,
    'at',
    t.at,
    'value',
    t.value,
  );
  const replies = await tx.exec();
  return replies![1]![1] as string;
}

/** A transition of the rule `freezer-warm` (since 1000). */
export const warm = (
  device: string,
  state: 'firing' | 'resolved',
  at: number,
  value: string,
): Transition => ({
  rule: 'freezer-warm',
  device,
  state,
  since: 1000,
  at,
  value,
});
