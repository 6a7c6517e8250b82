import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { randomPrefix, RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runInProcess } from './in-process.js';
import { ndjson } from './inputs.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await RedisServer.start({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] });
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

it('an ingest into a full server writes no batch in part and rejects nothing; re-run after memory is raised, it lands every reading once', async () => {
  const prefix = randomPrefix('oom');
  const now = Date.now() - 3_600_000;
  const readings = Array.from({ length: 60_000 }, (_, i) => ({
    device: `sensor-${i % 50}`,
    ts: now + i * 50,
    temp_f: (i % 700) / 10,
  }));
  const file = join(await mkdtemp(join(tmpdir(), 'pipe-oom-')), 'in.ndjson');
  await writeFile(file, ndjson(readings));
  const flags = { file, redisUrl: server.url, prefix, json: true };

  const full = await runInProcess('ingest', { ...flags, giveUpAfter: '2s' });
  expect(full.code, full.stderr).toBe(3);
  expect(full.stderr).toMatch(/OOM/);
  const first = summaryOf(full);
  // A batch Redis could not take in full was refused whole (the script's #!lua flags), not written in part
  // with its readings reported as rejected.
  expect(first.rejected).toBe(0);
  const landed = (await partitionEntries(redis, prefix)).length;
  expect(landed).toBe(first.readings);
  expect(landed % 1000).toBe(0);
  expect(landed).toBeLessThan(readings.length);

  await redis.config('SET', 'maxmemory', '0');
  const again = await runInProcess('ingest', flags);
  expect(again.code, again.stderr).toBe(0);
  expect(summaryOf(again)).toMatchObject({
    alreadyPresent: landed,
    readings: readings.length - landed,
    rejected: 0,
  });
  const entries = await partitionEntries(redis, prefix);
  expect(entries).toHaveLength(readings.length);
  expect(new Set(entries.map((e) => `${e.fields.device}@${e.fields.ts}`)).size).toBe(readings.length);
});
