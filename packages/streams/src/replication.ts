import { PipeError } from './errors.js';
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

/**
 * Waits until `durability.replicas` replicas hold every write sent so far on the connection to `key`'s
 * master (WAIT counts per connection; on a cluster the pipeline's key routes the WAIT to that master).
 */
export async function waitForReplicas(
  redis: RedisClient,
  key: string,
  durability: Durability,
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
  if (acknowledged < replicas) throw new NotReplicatedError(key, acknowledged, durability);
}
