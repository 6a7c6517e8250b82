import type {} from '@pipe/testkit/global-setup';
import { connect, type RedisClient } from '@pipe/streams';
import { afterAll, inject } from 'vitest';

/**
 * The run's shared redis-server (tests keep apart by key prefix) and a client of it for the calling
 * test file, closed after the file.
 */
export function sharedRedis(): { redisUrl: string; redis: RedisClient } {
  const redisUrl = inject('redisUrl');
  const redis = connect({ url: redisUrl });
  afterAll(() => redis.disconnect());
  return { redisUrl, redis };
}
