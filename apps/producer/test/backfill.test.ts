import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Flags, runInProcess } from './in-process.js';
import { DAY_MS } from '@pipe/streams';
import { yesterdayUtc } from './inputs.js';

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

function backfill(prefix: string, flags: Flags) {
  return runInProcess('backfill', { redisUrl, prefix, json: true, ...flags });
}

describe('backfill', () => {
  it('writes the same readings for the same flags and seed, and others for another seed', async () => {
    const from = yesterdayUtc() + DAY_MS - 10 * 60_000;
    const flags = {
      from: new Date(from).toISOString(),
      to: String(from + 20 * 60_000),
      devices: '4',
      interval: '2s',
    };
    const [a, b, c] = [randomPrefix('producer'), randomPrefix('producer'), randomPrefix('producer')];
    const runs = await Promise.all([
      backfill(a, { ...flags, seed: 'demo' }),
      backfill(b, { ...flags, seed: 'demo' }),
      backfill(c, { ...flags, seed: 'other' }),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expect(summaryOf(run)).toMatchObject({ readings: 600 * 4, partitions: 2, rejected: 0 });
    }
    const fieldSets = async (prefix: string) =>
      (await partitionEntries(redis, prefix)).map((e) => [e.key.slice(prefix.length), e.fields]);
    const [setA, setB, setC] = await Promise.all([fieldSets(a), fieldSets(b), fieldSets(c)]);
    expect(setA).toHaveLength(2400);
    expect(setB).toEqual(setA);
    expect(setC).not.toEqual(setA);
    expect(new Set(setA.map(([, f]) => (f as Record<string, string>).device))).toEqual(
      new Set(['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004']),
    );
  });

  it('with no flags writes the last 24 hours at one reading per second per device, inside retention', async () => {
    const prefix = randomPrefix('producer');
    const before = Date.now();
    // Every default but --devices, to keep the test short (the default is 3 devices).
    const run = await backfill(prefix, { devices: '1' });
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: 86_400, rejected: 0 });
    expect(summaryOf(run).readingsPerSecond).toBeGreaterThan(0);
    const entries = await partitionEntries(redis, prefix);
    const times = entries.map((e) => Number(e.fields.ts));
    const newest = Math.max(...times);
    expect(newest).toBeLessThanOrEqual(Date.now());
    expect(newest).toBeGreaterThan(before - 2000);
    expect(newest - Math.min(...times)).toBe(DAY_MS - 1000);
  });
});
