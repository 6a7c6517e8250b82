import type {} from '@pipe/testkit/global-setup';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { fieldsToObject } from '../src/codecs.js';
import { PipelineKeys } from '../src/keys.js';

export interface SharedServer {
  redis: Redis;
  url: string;
  prefix: string;
  keys: PipelineKeys;
  /** A key under this file's prefix. */
  key: (name: string) => string;
}

/**
 * A client of the run's shared redis-server and a key prefix of this file's own, so files run in
 * parallel without seeing each other's keys. The client is closed after the file.
 */
export function sharedServer(name: string): SharedServer {
  const url = inject('redisUrl');
  const redis = new Redis(url);
  afterAll(() => redis.quit());
  const prefix = randomPrefix(name);
  return { redis, url, prefix, keys: new PipelineKeys(prefix), key: (s) => `${prefix}:${s}` };
}

/** An entry's fields as an object, for readable assertions. */
export function fieldsOf(entry: { fields: string[] } | undefined): Record<string, string> {
  return fieldsToObject(entry?.fields ?? []);
}
