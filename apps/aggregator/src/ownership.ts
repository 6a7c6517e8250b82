import { type Logger, type PipelineKeys, PipeError, type RedisClient } from '@pipe/streams';
import type { AggregatorScripts } from './scripts.js';
import type { AggregatorStateKeys } from './state-keys.js';

/** This instance's group does not count the pipeline's readings: another group does. */
export class NotOwnerError extends PipeError {
  override readonly name = 'NotOwnerError';
  constructor(message: string) {
    super(message, 'NOT_OWNER');
  }
}

export interface OwnershipDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  scripts: AggregatorScripts;
  log: Logger;
}

/**
 * One consumer group counts a pipeline's readings into its averages. The partitions' hour totals are
 * shared, and an entry counts when XACK in the counting group returns 1, so a second group would count
 * every reading again (or, after the hours closed, send them all to the late stream). The first group
 * to start records itself beside the averages; another group refuses to start unless it takes over on
 * purpose (blue/green: `--take-over` once the old group's aggregators are stopped), which moves every
 * partition to it exactly where the old group stopped (take-over-2.lua).
 */
export async function claimAverages(
  deps: OwnershipDeps,
  group: string,
  takeOver: boolean,
  partitions: string[],
): Promise<void> {
  const { redis, keys, state, log } = deps;
  const owner = (await redis.get(state.owner())) ?? (await countingGroup(deps, group, partitions));
  if (owner === undefined || owner === group) {
    if ((await redis.set(state.owner(), group, 'NX')) === 'OK' || owner === group) return;
    return claimAverages(deps, group, takeOver, partitions); // another group was recorded meanwhile
  }
  if (!takeOver) {
    throw new NotOwnerError(
      `${keys.averages} is counted by consumer group "${owner}", not "${group}": run with --group ${owner}, ` +
        `or stop the aggregators of "${owner}" and start once with --take-over to hand it to "${group}"`,
    );
  }
  const refusals: string[] = [];
  for (const partition of partitions) {
    const [outcome, detail] = await deps.scripts.takeOver(
      [partition, state.aggHash(partition)],
      [group, owner],
    );
    if (outcome === 'pending') refusals.push(`${partition}: ${detail} entries pending in "${owner}"`);
    if (outcome === 'no-group')
      refusals.push(`${partition}: counted by "${detail}", which has no group there`);
  }
  if (refusals.length > 0) {
    throw new NotOwnerError(
      `--take-over refused, "${owner}" has not finished: ${refusals.join('; ')}; ` +
        `let an aggregator of "${owner}" acknowledge them, then take over`,
    );
  }
  await redis.set(state.owner(), group);
  log.warn({ from: owner, to: group, partitions: partitions.length }, 'took over the averages');
}

/** A group other than `group` named by a partition it counted (state from before the owner record). */
async function countingGroup(
  { redis, state }: OwnershipDeps,
  group: string,
  partitions: string[],
): Promise<string | undefined> {
  const named = await Promise.all(partitions.map((p) => redis.hget(state.aggHash(p), 'group')));
  return named.find((g): g is string => g !== null && g !== group);
}
