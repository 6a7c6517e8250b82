import { PipeError } from './errors.js';
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redis.js';

/**
 * How many replicas must hold a write before pipe builds on it. Redis replicates asynchronously: a
 * replica promoted after its master died can lack the master's last writes. `WAIT` makes a write wait
 * for them; 0 (the default) does not wait.
 */
export interface Durability {
  replicas: number;
  /** How long one WAIT may take; fewer replicas by then fails the step, which is retried. */
  timeoutMs: number;
}

export const NO_WAIT: Durability = { replicas: 0, timeoutMs: 0 };

/** Fewer replicas than required acknowledged a write in time: the step is not confirmed (retryable). */
export class NotReplicatedError extends PipeError {
  override readonly name = 'NotReplicatedError';
  constructor(key: string, acknowledged: number, { replicas, timeoutMs }: Durability) {
    super(
      `${key}: ${acknowledged} of ${replicas} replicas acknowledged the write within ${timeoutMs} ms`,
      'NOT_REPLICATED',
      true,
    );
  }
}

const epochs = new WeakMap<RedisClient, { value: number }>();

/**
 * A number that changes whenever the client's connections may no longer be the ones an earlier write
 * went out on: a (re)connection, on a cluster also a node added or removed or a slot given to another
 * master. WAIT only vouches for writes of its own connection, and ioredis sends a command again on a
 * new connection after a reconnect (or a failover's redirection): take the epoch before the write,
 * pass it to waitForReplicas, and a WAIT that may have gone out on another connection fails instead.
 */
export function connectionEpoch(redis: RedisClient): number {
  let epoch = epochs.get(redis);
  if (!epoch) {
    const state = { value: 0 };
    const bump = () => {
      state.value++;
    };
    if (isCluster(redis)) {
      const watched = new WeakSet<Redis>();
      const watch = (node: Redis) => {
        if (watched.has(node)) return;
        watched.add(node);
        node.on('ready', bump);
      };
      for (const node of redis.nodes()) watch(node);
      redis.on('+node', (node: Redis) => {
        watch(node);
        bump();
      });
      redis.on('-node', bump);
      // The slot map is refreshed every few seconds; only a change of masters counts.
      let masters = '';
      redis.on('refresh', () => {
        const now = redis.slots.map((nodes) => nodes?.[0] ?? '').join(',');
        if (now !== masters) bump();
        masters = now;
      });
    } else redis.on('ready', bump);
    epochs.set(redis, state);
    epoch = state;
  }
  return epoch.value;
}

/**
 * Waits until `durability.replicas` replicas hold every write sent so far on the connection to `key`'s
 * master (WAIT counts per connection; on a cluster the pipeline's key routes the WAIT to that master).
 * With `since` (connectionEpoch before the write), fails when the connection may have changed since.
 */
export async function waitForReplicas(
  redis: RedisClient,
  key: string,
  durability: Durability,
  since?: number,
): Promise<void> {
  const { replicas, timeoutMs } = durability;
  if (replicas <= 0) return;
  // WAIT 0 would block for ever, and every command queued behind it on the connection with it.
  if (!(timeoutMs > 0))
    throw new PipeError('waitForReplicas: timeoutMs must be more than 0', 'INVALID_ARGUMENT');
  let acknowledged: number;
  if (isCluster(redis)) {
    const replies = await redis.pipeline().exists(key).call('WAIT', replicas, timeoutMs).exec();
    const [err, reply] = replies?.[1] ?? [new Error('WAIT got no reply'), 0];
    if (err) throw err;
    acknowledged = Number(reply);
  } else {
    acknowledged = Number(await redis.call('WAIT', replicas, timeoutMs));
  }
  if (since !== undefined && connectionEpoch(redis) !== since)
    throw new PipeError(
      `${key}: the connection changed between the write and its WAIT (a reconnect or a failover); not confirmed`,
      'NOT_REPLICATED',
      true,
    );
  if (acknowledged < replicas) throw new NotReplicatedError(key, acknowledged, durability);
}
