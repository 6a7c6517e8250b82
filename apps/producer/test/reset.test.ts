import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runInProcess } from './in-process.js';

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

describe('reset', () => {
  it('deletes every key of the pipeline under the prefix, prints each, and nothing else', async () => {
    const prefix = randomPrefix('producer');
    const keys = new PipelineKeys(prefix);
    const partition = keys.partitionKeyFor(Date.UTC(2026, 0, 1));
    const other = new PipelineKeys(`${prefix}x`);
    const ours = [
      partition,
      keys.averages,
      keys.deadLetters,
      keys.late,
      keys.alerts,
      keys.viewerPosition('main'),
      keys.reaperLease,
      keys.batchLedger(partition),
      keys.companionKey(partition, 'hours'),
    ];
    // Spelled out too: the keys users see in the output, whatever PipelineKeys calls them.
    expect(ours).toEqual([
      `${prefix}:20260101`,
      `${prefix}:averages`,
      `${prefix}:dlq`,
      `${prefix}:late`,
      `${prefix}:alerts`,
      `${prefix}:viewer:main`,
      `${prefix}:reaper:lease`,
      `{${prefix}:20260101}:batches`,
      `{${prefix}:20260101}:hours`,
    ]);
    for (const key of ours) await redis.set(key, '1');
    const theirs = [other.partitionKeyFor(Date.UTC(2026, 0, 1)), other.batchLedger(`${prefix}x:20260101`)];
    for (const key of theirs) await redis.set(key, '1');

    const dry = await runInProcess('reset', { redisUrl, prefix });
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/refusing to delete 9 keys/);
    for (const key of ours) expect(dry.stdout).toContain(`would delete ${key}\n`);
    expect(await redis.exists(...ours)).toBe(ours.length);

    const run = await runInProcess('reset', { redisUrl, prefix, yes: true });
    expect(run.code, run.stderr).toBe(0);
    for (const key of ours) expect(run.stdout).toContain(`deleted ${key}\n`);
    expect(run.stdout).toContain(`reset: deleted 9 keys under ${prefix}`);
    expect(await redis.exists(...ours)).toBe(0);
    expect(await redis.exists(...theirs)).toBe(2);
  });

  it('refuses to run as a user that may not delete, saying it needs the admin user (exit 4)', async () => {
    const prefix = randomPrefix('producer');
    const keys = new PipelineKeys(prefix);
    const user = `reset-${prefix}`;
    // Like pipe-producer's ACL user: it may find the keys, not delete them.
    await redis.acl('SETUSER', user, 'on', '>pw', '~*', '+@all', '-unlink', '-del');
    try {
      await redis.set(keys.averages, '1');
      const url = new URL(redisUrl);
      url.username = user;
      url.password = 'pw';
      const run = await runInProcess('reset', { redisUrl: url.href, prefix, yes: true });
      expect(run.code).toBe(4);
      expect(run.stderr).toMatch(/^reset: failed: NOPERM/);
      expect(run.stderr).toContain(
        'needs a Redis user allowed to delete every pipeline key (the admin user)',
      );
      expect(await redis.exists(keys.averages)).toBe(1);
    } finally {
      await redis.acl('DELUSER', user);
    }
  });
});
