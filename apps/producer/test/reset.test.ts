import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProducer } from './producer-process.js';

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

describe('reset', () => {
  it('deletes every key of the pipeline under the prefix, prints each, and nothing else', async () => {
    const prefix = randomPrefix('producer');
    const other = `${prefix}x`;
    const ours = [
      `${prefix}:20260101`,
      `${prefix}:averages`,
      `${prefix}:dlq`,
      `${prefix}:late`,
      `${prefix}:alerts`,
      `${prefix}:viewer:main`,
      `${prefix}:reaper:lease`,
      `{${prefix}:20260101}:batches`,
      `{${prefix}:20260101}:hours`,
    ];
    for (const key of ours) await redis.set(key, '1');
    await redis.set(`${other}:20260101`, '1');
    await redis.set(`{${other}:20260101}:batches`, '1');

    const dry = await runProducer(['reset', '--redis-url', redisUrl, '--prefix', prefix]);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/refusing to delete 9 keys/);
    expect(await redis.exists(...ours)).toBe(ours.length);

    const run = await runProducer(['reset', '--redis-url', redisUrl, '--prefix', prefix, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    for (const key of ours) expect(run.stdout).toContain(`deleted ${key}\n`);
    expect(run.stdout).toContain(`reset: deleted 9 keys under ${prefix}`);
    expect(await redis.exists(...ours)).toBe(0);
    expect(await redis.exists(`${other}:20260101`, `{${other}:20260101}:batches`)).toBe(2);
  });
});
