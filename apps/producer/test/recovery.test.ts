import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from './in-process.js';

const DEVICES = 30;
const STEPS = 2000;
let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'producer-recovery-'));
  file = join(dir, 'readings.ndjson');
  // 60,000 readings over the last hour, every (device, ts) pair unique.
  const start = Date.now() - 3_600_000;
  const lines: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    for (let d = 0; d < DEVICES; d++)
      lines.push(JSON.stringify({ device: `dev-${d}`, ts: start + step * 1000, temp_f: d + step / 100 }));
  }
  await writeFile(file, `${lines.join('\n')}\n`);
});

async function stored(redis: Redis, prefix: string): Promise<number> {
  let total = 0;
  for (const key of await redis.keys(`${prefix}:*`)) total += await redis.xlen(key).catch(() => 0);
  return total;
}

/** Polls every 10 ms (the moment to strike comes and goes fast); a failing check counts as not yet. */
function waitUntil(what: string, check: () => Promise<boolean>): Promise<boolean> {
  return waitFor(what, () => check().catch(() => false), 30_000, 10);
}

/** Every reading exactly once: (device, ts) pairs, counted. */
async function expectEachReadingOnce(redis: Redis, prefix: string): Promise<void> {
  const entries = await partitionEntries(redis, prefix);
  const pairs = new Set(entries.map((e) => `${e.fields.device}@${e.fields.ts}`));
  expect(pairs.size).toBe(DEVICES * STEPS);
  expect(entries).toHaveLength(DEVICES * STEPS);
}

/** Each device's readings in stream order have rising event times, as the input had them. */
async function expectEachDeviceInOrder(redis: Redis, prefix: string): Promise<void> {
  const last = new Map<string, number>();
  const backwards: string[] = [];
  for (const { key, id, fields } of await partitionEntries(redis, prefix)) {
    const ts = Number(fields.ts);
    const device = `${key}/${fields.device}`;
    if (ts < (last.get(device) ?? Number.NEGATIVE_INFINITY)) backwards.push(`${device}@${ts} (${id})`);
    last.set(device, ts);
  }
  expect(backwards.slice(0, 5), `${backwards.length} readings out of order`).toEqual([]);
}

describe('when the Redis server goes away mid-ingest', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    // appendfsync always: whatever Redis acknowledged survives the kill.
    server = await RedisServer.start({ aof: 'always' });
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('retries after a restart and ends with every reading present exactly once, in order', async () => {
    const prefix = randomPrefix('producer');
    const ingest = runInProcess(
      'ingest',
      { redisUrl: server.url, prefix, file, json: true },
      { logLevel: 'info' },
    );
    await waitUntil('3000 readings stored', async () => (await stored(redis, prefix)) > 3000);
    await server.restart({ downMs: 1500 });
    const run = await ingest;
    expect(run.code, run.stderr).toBe(0);
    // The restart did hit the ingest in the middle: batches were retried.
    expect(run.stdout).toContain('redis unavailable; retrying batch');
    expect(summaryOf(run)).toMatchObject({ readings: DEVICES * STEPS, rejected: 0 });
    await expectEachReadingOnce(redis, prefix);
    // Retried batches took turns and later ones waited: none landed before an earlier one.
    await expectEachDeviceInOrder(redis, prefix);
  });

  it('gives up after --give-up-after with exit 3, saying what was written; a re-run completes without duplicates', async () => {
    const prefix = randomPrefix('producer');
    const flags = { redisUrl: server.url, prefix, file, json: true };
    const ingest = runInProcess('ingest', { ...flags, giveUpAfter: '1s' });
    await waitUntil('3000 readings stored', async () => (await stored(redis, prefix)) > 3000);
    await server.kill();
    const run = await ingest;
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/gave up: Redis was unavailable for 1s/);
    expect(run.stderr).toMatch(/written: \d+ readings are in Redis/);
    expect(run.stderr).toMatch(/not written: input after line \d+ \(\d+ lines read\)/);
    const summary = summaryOf(run);
    expect(summary.readings).toBeLessThan(DEVICES * STEPS);

    await server.restart();
    await waitUntil('Redis to answer', async () => (await redis.ping()) === 'PONG');
    const landed = await stored(redis, prefix);
    expect(landed).toBeGreaterThanOrEqual(summary.readings as number);
    expect(landed).toBeLessThanOrEqual((summary.readings as number) + ((summary.unconfirmed as number) ?? 0));

    const rerun = await runInProcess('ingest', flags);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(summaryOf(rerun).alreadyPresent).toBe(landed);
    await expectEachReadingOnce(redis, prefix);
  });
});
