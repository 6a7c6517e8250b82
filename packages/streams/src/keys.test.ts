import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidIdError } from './errors.js';
import { hourLabel } from './ids.js';
import { DEFAULT_PREFIX, PipelineKeys } from './keys.js';
import { calculateSlot, SLOTS, shardOfDevice } from './shards.js';
import { parseWindowSize, WINDOW_SIZES } from './windows.js';

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

describe('key patterns', () => {
  /** Redis's glob (`stringmatchlen`: `*`, `?`, `[a-z]`, `[^a]`, `\` escapes) over the whole key. */
  function globMatches(pattern: string, key: string): boolean {
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      if (c === '*') source += '.*';
      else if (c === '?') source += '.';
      else if (c === '\\') source += `\\${pattern[++i] ?? ''}`;
      else if (c === '[') {
        const close = pattern.indexOf(']', i + 1);
        const set = pattern.slice(i + 1, close).replace(/^\^/, '^');
        source += `[${set.replace(/[\\\]]/g, '\\$&')}]`;
        i = close;
      } else source += c.replace(/[.+(){}|$^]/g, '\\$&');
    }
    return new RegExp(`^${source}$`, 's').test(key);
  }

  // A prefix with a dot and a dash: both literal in a glob, as the prefix rule guarantees.
  const keys = new PipelineKeys('p.x-1');
  const day = keys.partitionKeyFor(Date.UTC(2026, 0, 1));
  const shard = keys.partitionKeyFor(Date.UTC(2026, 0, 1), { index: 1, count: 3 });
  const wideShard = keys.partitionKeyFor(Date.UTC(2026, 11, 31), { index: 11, count: 16 });
  const kinds = {
    dayPartition: [day, keys.partitionKeyFor(Date.UTC(2030, 5, 15))],
    shard: [shard, wideShard],
    dayLedger: [keys.batchLedger(day)],
    dayCompanion: [keys.companionKey(day, 'agg'), keys.companionKey(day, 'hour:1767225600000')],
    shardLedger: [keys.batchLedger(shard), keys.batchLedger(wideShard)],
    shardCompanion: [keys.companionKey(shard, 'agg'), keys.companionKey(wideShard, 'hour:1767225600000')],
    outputStream: [keys.averages, keys.late, keys.deadLetters, keys.alerts],
    outputCompanion: [
      keys.companionKey(keys.averages, 'owner'),
      keys.companionKey(keys.deadLetters, 'moved'),
      keys.windowsLayout,
    ],
    fleetWindow: [keys.averagesFor(parseWindowSize('1m')), keys.averagesFor(parseWindowSize('1d'))],
    deviceWindow: [
      keys.deviceWindows('sensor-1', parseWindowSize('1m')),
      keys.deviceWindows('site:7.a_b', parseWindowSize('1d')),
    ],
    devicesIndex: [keys.devicesIndex],
    devicesLatest: [keys.devicesLatest],
    reaperLease: [keys.reaperLease],
    viewerPosition: [
      keys.viewerPosition('default'),
      keys.viewerPosition('ops:1'),
      keys.viewerPosition('default', 'device:sensor-1:1m'),
      keys.viewerPosition('ops', 'averages:1d'),
    ],
    foreign: [
      'temps:20260101',
      '{temps:20260101}:batches',
      'p.x-10:20260101',
      'pXx-1:20260101',
      'p.x-1',
      'other',
    ],
  };
  type Kind = keyof typeof kinds;
  const patterns = keys.patterns;
  const everyKind = Object.keys(kinds).filter((kind) => kind !== 'foreign') as Kind[];

  it.each<[string, string[], Kind[]]>([
    ['all', patterns.all, everyKind],
    ['dayPartitions', [patterns.dayPartitions], ['dayPartition']],
    ['shards', [patterns.shards], ['shard']],
    ['partitionNames', [patterns.partitionNames], ['dayPartition', 'shard', 'shardLedger', 'shardCompanion']],
    ['partitionCompanions', [patterns.partitionCompanions], ['dayLedger', 'dayCompanion']],
    ['shardCompanions', [patterns.shardCompanions], ['shardLedger', 'shardCompanion']],
    ['batchLedgers', patterns.batchLedgers, ['dayLedger', 'shardLedger']],
    ['outputStreams', patterns.outputStreams, ['outputStream']],
    ['companionsOf(output stream)', patterns.outputStreams.map(patterns.companionsOf), ['outputCompanion']],
    ['reaperLease', [patterns.reaperLease], ['reaperLease']],
    ['viewerPositions', [patterns.viewerPositions], ['viewerPosition']],
    ['fleetWindows', [patterns.fleetWindows], ['fleetWindow']],
    ['deviceWindows', [patterns.deviceWindows], ['deviceWindow']],
    ['devicesIndex', [patterns.devicesIndex], ['devicesIndex']],
    ['devicesLatest', [patterns.devicesLatest], ['devicesLatest']],
  ])('%s matches exactly the keys of its kinds', (_name, globs, expected) => {
    for (const [kind, keysOfKind] of Object.entries(kinds)) {
      for (const key of keysOfKind) {
        const matched = globs.some((glob) => globMatches(glob, key));
        expect(matched, `${globs.join(' ')} on ${key} (${kind})`).toBe(expected.includes(kind as Kind));
      }
    }
  });

  it('names one companion of every day partition and shard', () => {
    const agg = keys.patterns.namedCompanions('agg');
    const matched = [...Object.values(kinds).flat()].filter((key) => agg.some((g) => globMatches(g, key)));
    expect(matched).toEqual([keys.companionKey(day, 'agg'), keys.companionKey(shard, 'agg')]);
  });

  it('takes exactly eight digits for a day', () => {
    for (const key of ['p.x-1:2026010', 'p.x-1:202601011', 'p.x-1:2026010a']) {
      expect(globMatches(patterns.dayPartitions, key), key).toBe(false);
    }
  });

  it('follows the prefix', () => {
    expect(new PipelineKeys().patterns.dayPartitions).toBe(`temps:${'[0-9]'.repeat(8)}`);
    expect(new PipelineKeys('a_b').patterns.viewerPositions).toBe('a_b:viewer:*');
  });
});

describe('window keys', () => {
  const [minute, hour, day] = ['1m', '1h', '1d'].map(parseWindowSize) as [
    ReturnType<typeof parseWindowSize>,
    ReturnType<typeof parseWindowSize>,
    ReturnType<typeof parseWindowSize>,
  ];

  it('keeps temps:averages for 1h and names the other fleet sizes after it', () => {
    expect(keys.averagesFor(hour)).toBe('temps:averages');
    expect(keys.averagesFor(minute)).toBe('temps:averages:1m');
    expect(keys.averagesFor(day)).toBe('temps:averages:1d');
  });

  it('puts every tier of a device in one slot, and devices apart', () => {
    expect(keys.deviceWindows('sensor-7', minute)).toBe('{temps:device:sensor-7}:1m');
    const slots = WINDOW_SIZES.map((label) =>
      calculateSlot(keys.deviceWindows('sensor-7', parseWindowSize(label))),
    );
    expect(new Set(slots)).toEqual(new Set([calculateSlot('temps:device:sensor-7')]));
    expect(calculateSlot(keys.deviceWindows('sensor-8', minute))).not.toBe(slots[0]);
  });

  it('keeps the layout record beside the averages stream, in its slot', () => {
    expect(keys.windowsLayout).toBe('{temps:averages}:windows');
    expect(calculateSlot(keys.windowsLayout)).toBe(calculateSlot(keys.averages));
    expect(keys.devicesIndex).toBe('temps:devices');
    expect(keys.devicesLatest).toBe('{temps:devices}:latest');
    expect(calculateSlot(keys.devicesLatest)).toBe(calculateSlot(keys.devicesIndex));
  });
});
