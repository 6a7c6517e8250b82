import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { DAY_MS, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Flags, runInProcess } from './in-process.js';
import { ndjson, yesterdayUtc } from './inputs.js';

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

function ingest(prefix: string, input: string, flags: Flags = {}) {
  return runInProcess('ingest', { redisUrl, prefix, json: true, ...flags }, { input });
}

/** Runs `body` with the process's time zone set to `tz` (Node applies a TZ assigned at run time). */
async function inTimeZone<T>(tz: string, body: () => Promise<T>): Promise<T> {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

describe('partitions', () => {
  for (const tz of ['Asia/Tokyo', 'America/Los_Angeles']) {
    it(`puts 23:59:59.999 and 00:00:00.000 UTC in different partitions under TZ=${tz}`, async () => {
      const prefix = randomPrefix('producer');
      const keys = new PipelineKeys(prefix);
      const midnight = yesterdayUtc() + DAY_MS;
      const input = ndjson([
        { device: 'sensor-001', ts: new Date(midnight - 1).toISOString(), temp_f: 60 },
        { device: 'sensor-001', ts: midnight, temp_f: 61 },
        { device: 'sensor-002', ts: midnight - 1, temp_f: 62 },
      ]);
      await inTimeZone(tz, async () => {
        // The zone is in force: local midnight is not UTC midnight, so a local-day partition would differ.
        expect(new Date(midnight).getTimezoneOffset()).not.toBe(0);
        for (const idFromTime of [false, true]) {
          const p = `${prefix}${idFromTime ? 1 : 0}`;
          const run = await ingest(p, input, { idFromTime });
          expect(run.code, run.stderr).toBe(0);
          const entries = await partitionEntries(redis, p);
          const byKey = (key: string) => entries.filter((e) => e.key === key).map((e) => Number(e.fields.ts));
          expect(byKey(new PipelineKeys(p).partitionKeyFor(midnight - 1))).toEqual([
            midnight - 1,
            midnight - 1,
          ]);
          expect(byKey(new PipelineKeys(p).partitionKeyFor(midnight))).toEqual([midnight]);
          if (idFromTime)
            expect(entries.map((e) => e.id.split('-')[0])).toEqual(entries.map((e) => e.fields.ts));
        }
      });
      expect(keys.partitionKeyFor(midnight - 1)).not.toBe(keys.partitionKeyFor(midnight));
    });
  }
});

describe('expiry', () => {
  it('is the newest reading + retention on the partition and its ledger, and is never lowered', async () => {
    const prefix = randomPrefix('producer');
    // Yesterday's partition, whatever the time of day: its 00:00 is 24-48 h ago, so a retention of 3 days
    // keeps its first minute writable at every moment (36 h rejected it from 12:00 UTC on).
    const day = yesterdayUtc();
    const partition = new PipelineKeys(prefix).partitionKeyFor(day);
    const ledger = new PipelineKeys(prefix).batchLedger(partition);
    const retentionMs = 3 * DAY_MS;
    const retention = { retention: '3d' };
    const first = await ingest(
      prefix,
      ndjson([
        { device: 'a', ts: day + 5000, temp_f: 1 },
        { device: 'a', ts: day + 9000, temp_f: 2 },
      ]),
      retention,
    );
    expect(first.code, first.stderr).toBe(0);
    const expected = day + 9000 + retentionMs;
    expect(await redis.pexpiretime(partition)).toBe(expected);
    expect(await redis.pexpiretime(ledger)).toBe(expected);

    // An older reading later must not shorten the partition's life.
    await ingest(prefix, ndjson([{ device: 'a', ts: day + 1000, temp_f: 3 }]), retention);
    expect(await redis.pexpiretime(partition)).toBe(expected);

    // A newer one pushes it out.
    await ingest(prefix, ndjson([{ device: 'a', ts: day + 60_000, temp_f: 4 }]), retention);
    expect(await redis.pexpiretime(partition)).toBe(day + 60_000 + retentionMs);
    expect(await redis.xlen(partition)).toBe(4);
  });

  it('never leaves a partition without an expiry, even when every batch lands in several partitions', async () => {
    const prefix = randomPrefix('producer');
    const from = yesterdayUtc() + DAY_MS - 30_000;
    const run = await runInProcess('backfill', {
      redisUrl,
      prefix,
      from: String(from),
      to: String(from + 60_000),
      devices: '7',
      batchSize: '50',
      json: true,
    });
    expect(run.code, run.stderr).toBe(0);
    const keys = await redis.keys(`*${prefix}*`);
    expect(keys.length).toBe(4);
    for (const key of keys) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    const newestOfDay = new Map<string, number>();
    for (const e of await partitionEntries(redis, prefix)) {
      newestOfDay.set(e.key, Math.max(newestOfDay.get(e.key) ?? 0, Number(e.fields.ts)));
    }
    for (const [key, newest] of newestOfDay) expect(await redis.pexpiretime(key)).toBe(newest + 2 * DAY_MS);
  });
});

describe('retention', () => {
  it('rejects a reading that would expire as it is written and writes the others', async () => {
    const prefix = randomPrefix('producer');
    const now = Date.now();
    const run = await ingest(
      prefix,
      ndjson([
        { device: 'old', ts: now - 2 * DAY_MS - 1000, temp_f: 1 },
        { device: 'edge', ts: now - 2 * DAY_MS + 120_000, temp_f: 2 },
        { device: 'new', ts: now, temp_f: 3 },
      ]),
    );
    expect(run.code).toBe(2);
    expect(summaryOf(run)).toMatchObject({ readings: 2, rejected: 1 });
    expect(run.stderr).toMatch(
      /stdin:1: ts: .* is older than the retention of 2d; it would expire as it is written/,
    );
    const devices = (await partitionEntries(redis, prefix)).map((e) => e.fields.device).sort();
    expect(devices).toEqual(['edge', 'new']);
  });

  it('honours --retention', async () => {
    const prefix = randomPrefix('producer');
    const now = Date.now();
    const run = await ingest(prefix, ndjson([{ device: 'd', ts: now - 2 * 3_600_000, temp_f: 1 }]), {
      retention: '1h',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/older than the retention of 1h/);
  });
});

describe('many devices', () => {
  it('writes every reading when thousands of devices read in the same millisecond', async () => {
    const ts = Date.now() - 1000;
    const records = Array.from({ length: 5000 }, (_, i) => ({ device: `dev-${i}`, ts, temp_f: i / 10 }));
    for (const idFromTime of [false, true]) {
      const prefix = randomPrefix('producer');
      const run = await ingest(prefix, ndjson(records), { idFromTime });
      expect(run.code, run.stderr).toBe(0);
      expect(summaryOf(run)).toMatchObject({ readings: 5000, rejected: 0, partitions: 1 });
      const entries = await partitionEntries(redis, prefix);
      expect(new Set(entries.map((e) => e.fields.device)).size).toBe(5000);
      expect(new Set(entries.map((e) => e.id)).size).toBe(5000);
      if (idFromTime) expect(entries.every((e) => e.id.startsWith(`${ts}-`))).toBe(true);
    }
  });

  it('refuses an out-of-order reading with --id-from-time and writes the rest', async () => {
    const prefix = randomPrefix('producer');
    const ts = Date.now() - 10_000;
    const run = await ingest(
      prefix,
      ndjson([
        { device: 'a', ts, temp_f: 1 },
        { device: 'a', ts: ts - 5, temp_f: 2 },
        { device: 'a', ts: ts + 5, temp_f: 3 },
      ]),
      { idFromTime: true, rejects: '/dev/null' },
    );
    expect(run.code).toBe(2);
    expect(summaryOf(run)).toMatchObject({ readings: 2, rejected: 1 });
    expect(run.stderr).toMatch(
      /stdin:2: refused by Redis: .*equal or smaller than the target stream top item/,
    );
    expect((await partitionEntries(redis, prefix)).map((e) => e.fields.temp_f)).toEqual(['1', '3']);
  });
});
