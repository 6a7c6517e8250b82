import { ConsumerGroup, type ConsumerInfo, isNoGroup } from './consumer-group.js';
import type { RedisClient } from './redis.js';

/** A consumer judged live, with when it was last seen (client clock, ms). */
export interface LiveConsumer extends ConsumerInfo {
  lastSeenAt: number;
}

export interface LivenessOptions {
  /**
   * When the consumer was last seen, given XINFO's row and the client time just before XINFO ran;
   * by default `readAt - idleMs`. A claimer overrides it to discount its own claims (see below).
   */
  lastSeen?: (consumer: ConsumerInfo, readAt: number) => number;
}

/**
 * Reclaim protocol, liveness half: a consumer is live when XINFO CONSUMERS reports it idle for less than
 * `liveWithinMs`. A ConsumerLoop starts a blocking read at least every `blockMs`, and every XREADGROUP
 * resets its idle time, so any window comfortably above blockMs (plus a batch's processing time) tells
 * a working consumer from a dead one.
 *
 * Caveat: XCLAIM/XAUTOCLAIM also reset the idle time of the consumer they claim *to*, so whoever claims
 * must not count its own claims as signs of life (options.lastSeen; the reaper remembers its claims).
 *
 * Returns the group's live consumers, least pending first; empty when the stream or group is gone.
 */
export async function liveConsumers(
  redis: RedisClient,
  stream: string,
  group: string,
  liveWithinMs: number,
  { lastSeen = (c, readAt) => readAt - c.idleMs }: LivenessOptions = {},
): Promise<LiveConsumer[]> {
  const readAt = Date.now();
  let consumers: ConsumerInfo[];
  try {
    consumers = await new ConsumerGroup(redis, group, [stream]).consumers(stream);
  } catch (err) {
    if (isNoGroup(err) || (err instanceof Error && /no such key/i.test(err.message))) return [];
    throw err;
  }
  return consumers
    .map((c) => ({ ...c, lastSeenAt: lastSeen(c, readAt) }))
    .filter((c) => readAt - c.lastSeenAt < liveWithinMs)
    .sort((a, b) => a.pending - b.pending);
}
