import { ConsumerGroup, type ConsumerInfo, isNoGroup } from './consumer-group.js';
import type { RedisClient } from './redis.js';

/** A consumer with when it was last seen (client clock, ms) and whether that makes it live. */
export interface JudgedConsumer extends ConsumerInfo {
  lastSeenAt: number;
  live: boolean;
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
 * `liveWithinMs`. On Redis 7.0 a consumer's idle time is reset by reads that *serve* it something and by
 * reads of its own PEL (XREADGROUP with ID 0), even an empty one; a `>` read that finds nothing new,
 * blocking or not, does not reset it. A ConsumerLoop re-reads its own PEL every `pendingCheckMs`, so it
 * shows up at least every max(pendingCheckMs, blockMs) plus one batch's processing time: the live
 * window must be comfortably above that (the reaper's default is 15 s against the loop's 2 s).
 *
 * Caveat: XCLAIM/XAUTOCLAIM also reset the idle time of the consumer they claim *to*, so whoever claims
 * must not count its own claims as signs of life (options.lastSeen; the reaper remembers its claims).
 *
 * Returns every consumer of the group, judged; empty when the stream or group is gone.
 */
export async function judgeConsumers(
  redis: RedisClient,
  stream: string,
  group: string,
  liveWithinMs: number,
  { lastSeen = (c, readAt) => readAt - c.idleMs }: LivenessOptions = {},
): Promise<JudgedConsumer[]> {
  const readAt = Date.now();
  let consumers: ConsumerInfo[];
  try {
    consumers = await new ConsumerGroup(redis, group, [stream]).consumers(stream);
  } catch (err) {
    if (isNoGroup(err) || (err instanceof Error && /no such key/i.test(err.message))) return [];
    throw err;
  }
  return consumers.map((c) => {
    const lastSeenAt = lastSeen(c, readAt);
    return { ...c, lastSeenAt, live: readAt - lastSeenAt < liveWithinMs };
  });
}

/** The group's live consumers (see judgeConsumers), least pending first. */
export async function liveConsumers(
  redis: RedisClient,
  stream: string,
  group: string,
  liveWithinMs: number,
  options: LivenessOptions = {},
): Promise<JudgedConsumer[]> {
  const judged = await judgeConsumers(redis, stream, group, liveWithinMs, options);
  return judged.filter((c) => c.live).sort((a, b) => a.pending - b.pending);
}
