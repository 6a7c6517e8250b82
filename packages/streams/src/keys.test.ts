import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidIdError } from './errors.js';
import { hourLabel } from './ids.js';
import { DEFAULT_PREFIX, PipelineKeys } from './keys.js';
import { calculateSlot, SLOTS, shardOfDevice } from './shards.js';

const keys = new PipelineKeys();
const lastMsOf2024 = Date.UTC(2024, 11, 31, 23, 59, 59, 999);
const firstMsOf2025 = Date.UTC(2025, 0, 1, 0, 0, 0, 0);

// Node re-reads TZ whenever process.env.TZ is assigned, so each zone below really changes what the
// local-time Date methods return; the first assertion of each block proves it.
describe.each(['America/Los_Angeles', 'Pacific/Kiritimati', 'Asia/Kolkata'])(
  'partitions under TZ=%s',
  (zone) => {
    let saved: string | undefined;
    beforeAll(() => {
      saved = process.env.TZ;
      process.env.TZ = zone;
    });
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it('runs with a local day that differs from the UTC day at one of the two instants', () => {
      const local = (ms: number) => new Date(ms).getDate();
      const utc = (ms: number) => new Date(ms).getUTCDate();
      expect(local(lastMsOf2024) !== utc(lastMsOf2024) || local(firstMsOf2025) !== utc(firstMsOf2025)).toBe(
        true,
      );
    });

    it('puts 23:59:59.999 UTC and 00:00:00.000 UTC in different partitions, by the UTC day', () => {
      expect(keys.partitionKeyFor(lastMsOf2024)).toBe('temps:20241231');
      expect(keys.partitionKeyFor(firstMsOf2025)).toBe('temps:20250101');
    });

    it('parses a partition key back to its UTC midnight', () => {
      expect(keys.parsePartitionKey('temps:20250101')).toBe(firstMsOf2025);
      expect(keys.dayOf(keys.partitionKeyFor(lastMsOf2024))).toBe(Date.UTC(2024, 11, 31));
    });

    it('lists the partitions of a range by UTC day', () => {
      expect(keys.partitionKeysBetween(lastMsOf2024, firstMsOf2025)).toEqual([
        'temps:20241231',
        'temps:20250101',
      ]);
    });

    it('labels averages by the UTC date and hour', () => {
      expect(hourLabel(Date.UTC(2024, 11, 31, 23))).toEqual({ date: '2024/12/31', hour: 23 });
    });
  },
);

describe('partition keys', () => {
  it('uses temps as the default prefix', () => {
    expect(DEFAULT_PREFIX).toBe('temps');
    expect(keys.prefix).toBe('temps');
  });

  it('pads month and day', () => {
    expect(keys.partitionKeyFor(Date.UTC(2025, 2, 7, 12))).toBe('temps:20250307');
  });

  it('refuses a timestamp that is not a time', () => {
    expect(() => keys.partitionKeyFor(Number.NaN)).toThrow(InvalidIdError);
    expect(() => keys.partitionKeyFor(8.64e15 + 1)).toThrow(InvalidIdError);
  });

  it('covers every UTC day a range touches, oldest first, each once', () => {
    const from = Date.UTC(2024, 1, 27, 18);
    const to = Date.UTC(2024, 2, 1, 3);
    expect(keys.partitionKeysBetween(from, to)).toEqual([
      'temps:20240227',
      'temps:20240228',
      'temps:20240229',
      'temps:20240301',
    ]);
    expect(keys.partitionKeysBetween(from, from)).toEqual(['temps:20240227']);
    expect(keys.partitionKeysBetween(Date.UTC(2024, 1, 28), Date.UTC(2024, 1, 28, 23, 59, 59, 999))).toEqual([
      'temps:20240228',
    ]);
  });

  it('returns no partitions for a range that ends before it starts', () => {
    expect(keys.partitionKeysBetween(Date.UTC(2025, 0, 2), Date.UTC(2025, 0, 1))).toEqual([]);
  });

  it.each([
    'temps:averages',
    'temps:dlq',
    'temps:late',
    'temps:alerts',
    'temps:reaper:lease',
    '{temps:20250101}:x',
    '{temps:20250101}',
    'temps:20250230',
    'temps:20251301',
    'temps:20250100',
    'temps:2025010',
    'temps:202501011',
    'temps:20250101:x',
    'other:20250101',
    'xtemps:20250101',
    'temps-20250101',
    'TEMPS:20250101',
    'temps:20250101:s1{1.4}:agg',
    'temps:20250101:s1{}',
    'temps:20250101:s1',
    'temps:20250101:x{1.4}',
  ])('does not take %j for a partition', (key) => {
    expect(keys.isPartitionKey(key)).toBe(false);
    expect(keys.dayOf(key)).toBeUndefined();
    expect(() => keys.parsePartitionKey(key)).toThrow(InvalidIdError);
  });

  it('accepts real calendar days, leap days included', () => {
    expect(keys.isPartitionKey('temps:20240229')).toBe(true);
    expect(keys.isPartitionKey('temps:20250228')).toBe(true);
    expect(keys.isPartitionKey('temps:20250229')).toBe(false);
  });

  it('names the companion streams under the prefix', () => {
    expect(keys.averages).toBe('temps:averages');
    expect(keys.deadLetters).toBe('temps:dlq');
    expect(keys.late).toBe('temps:late');
    expect(keys.alerts).toBe('temps:alerts');
  });

  it('tags companion keys with the partition so both hash to the same cluster slot', () => {
    const companion = keys.companionKey('temps:20250101', 'hours');
    expect(companion).toBe('{temps:20250101}:hours');
    expect(hashTag(companion)).toBe('temps:20250101');
  });
});

describe('shards of a day', () => {
  const day = Date.UTC(2025, 0, 1, 12);

  it('keeps the plain day key for one shard', () => {
    expect(keys.partitionKeyFor(day, { index: 0, count: 1 })).toBe('temps:20250101');
  });

  it('names each shard of the day and reads its day back', () => {
    const shards = [0, 1, 2].map((index) => keys.partitionKeyFor(day, { index, count: 3 }));
    expect(new Set(shards).size).toBe(3);
    for (const [index, key] of shards.entries()) {
      expect(key).toMatch(new RegExp(`^temps:20250101:s${index}\\{[^{}]+\\}$`));
      expect(keys.isPartitionKey(key)).toBe(true);
      expect(keys.dayOf(key)).toBe(Date.UTC(2025, 0, 1));
    }
  });

  it('puts shard i of N in the i-th N-th of the slot space, every day', () => {
    for (const count of [2, 3, 6]) {
      for (let index = 0; index < count; index++) {
        for (const d of [day, day + 86_400_000, day + 400 * 86_400_000]) {
          const slot = calculateSlot(keys.partitionKeyFor(d, { index, count }));
          expect(Math.floor((slot * count) / SLOTS)).toBe(index);
        }
      }
    }
  });

  it("keeps a shard's companion keys in the shard's slot", () => {
    const shard = keys.partitionKeyFor(day, { index: 1, count: 3 });
    const companion = keys.companionKey(shard, 'agg');
    expect(companion).toBe(`${shard}:agg`);
    expect(calculateSlot(companion)).toBe(calculateSlot(shard));
    expect(keys.isPartitionKey(companion)).toBe(false);
  });

  it('sends a device to the same shard always, and spreads devices evenly', () => {
    expect(shardOfDevice('sensor-7', 3)).toBe(shardOfDevice('sensor-7', 3));
    expect(shardOfDevice('sensor-7', 1)).toBe(0);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardOfDevice(`sensor-${i}`, 3)]!++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
  });
});

describe('a configured prefix', () => {
  const custom = new PipelineKeys('site-7.lab');

  it('names every key under that prefix', () => {
    expect(custom.partitionKeyFor(firstMsOf2025)).toBe('site-7.lab:20250101');
    expect(custom.averages).toBe('site-7.lab:averages');
    expect(custom.deadLetters).toBe('site-7.lab:dlq');
    expect(custom.companionKey('site-7.lab:20250101', 'x')).toBe('{site-7.lab:20250101}:x');
    expect(custom.partitionScanPattern.startsWith('site-7.lab:')).toBe(true);
    expect(custom.ownedPatterns).toEqual(['site-7.lab:*', '{site-7.lab:*']);
  });

  it('recognises only its own partitions, and treats the dot literally', () => {
    expect(custom.isPartitionKey('site-7.lab:20250101')).toBe(true);
    expect(custom.isPartitionKey('temps:20250101')).toBe(false);
    expect(custom.isPartitionKey('site-7xlab:20250101')).toBe(false);
    expect(keys.isPartitionKey('site-7.lab:20250101')).toBe(false);
  });

  it.each(['', 'temps:x', 'a b', 'te*mps', '{temps}', 'a[1]'])('refuses the prefix %j', (prefix) => {
    expect(() => new PipelineKeys(prefix)).toThrow(InvalidIdError);
  });
});

/** The part of a key Redis Cluster hashes: the first non-empty {...} section, or the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}
