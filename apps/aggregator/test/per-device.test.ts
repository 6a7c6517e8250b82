import {
  expectAveragesToMatch,
  expectDeviceWindowsToMatch,
  expectedHours,
  readingsBetween,
  sharedRedis,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import {
  calculateSlot,
  DAY_MS,
  encodeReading,
  HOUR_MS,
  NO_WAIT,
  outboxOf,
  parseWindowSize,
  shardOfDevice,
  WindowLayout,
} from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { deviceKeyGroups, deviceWindowsOf, publishDeviceWindows } from '../src/device-windows.js';
import { defineAggregatorScripts } from '../src/scripts.js';
import { AggregatorStateKeys } from '../src/state-keys.js';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('dev');
const { drain } = inProcessAggregators();
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const SIZES = ['1m', '1h', '1d'];
const windows = WindowLayout.parse(SIZES.join(','));
const perDevice = { windows: windows.withPerDevice(true), perDevice: true };

// Every device's windows across UTC midnight, out of order, and late: windows-drain.test.ts (--per-device).
describe('--per-device', () => {
  it('merges a device that wrote to two shards of a day (a re-sharded day) exactly once, with 1h alone', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 7 * HOUR_MS + 11_000;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 30_000, 3, 5);
    // Each device alternates between the shards; sensor-2 writes to its own shard only.
    const pipeline = redis.pipeline();
    readings.forEach((r, i) => {
      const index = r.device === 'sensor-2' ? shardOfDevice(r.device, 2) : i % 2;
      pipeline.xadd(keys.partitionKeyFor(r.ts, { index, count: 2 }), '*', ...encodeReading(r));
    });
    await pipeline.exec();
    await drain(keys, { perDevice: true });
    await expectDeviceWindowsToMatch(
      redis,
      keys,
      new WindowTally(['1h'], { perDevice: true }).addAll(readings),
    );
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    // The fleet's hour keeps its RU202 fields (1h alone).
    const [[, fields]] = (await redis.xrange(keys.averages, '-', '+', 'COUNT', 1)) as [[string, string[]]];
    expect(fields).not.toContain('stddev_temp_f');
  });

  it('keeps each device’s tier at --keep (MINID ~) and expires it keep + size after its last write', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 3 * HOUR_MS;
    await writeReadings(redis, keys, readingsBetween(from, from + 3 * HOUR_MS, 60_000, 1, 3));
    await drain(keys, { ...perDevice, keep: new Map([['1m', HOUR_MS]]) });
    const minutes = keys.deviceWindows('sensor-0', parseWindowSize('1m'));
    // MINID ~ removes whole nodes of 100 entries: between 60 and 160 of the 180 minutes stay.
    const kept = await redis.xlen(minutes);
    expect(kept).toBeGreaterThanOrEqual(60);
    expect(kept).toBeLessThan(180);
    const ttl = await redis.pttl(minutes);
    expect(ttl).toBeGreaterThan(HOUR_MS);
    expect(ttl).toBeLessThanOrEqual(HOUR_MS + 60_000);
    // The other tiers keep their default: 720 windows, at most 400 days.
    expect(await redis.xlen(keys.deviceWindows('sensor-0', parseWindowSize('1h')))).toBe(3);
    expect(await redis.pttl(keys.deviceWindows('sensor-0', parseWindowSize('1d')))).toBeGreaterThan(
      399 * DAY_MS,
    );
  });

  it('settles a window as a listpack of its totals without the devices, with its expiry', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 5 * HOUR_MS;
    // 50 devices: the packed per-device totals made each window hash a hash table while it was open.
    const readings = readingsBetween(from, from + 2 * 60_000, 30_000, 50, 7);
    await writeReadings(redis, keys, readings);
    await drain(keys, perDevice);
    const partition = keys.partitionKeyFor(from);
    const minute = keys.companionKey(partition, `win:1m:${from}`);
    const hour = keys.companionKey(partition, `hour:${from}`);
    for (const key of [minute, hour]) {
      const totals = await redis.hgetall(key);
      expect(totals.settled).toBe('1');
      expect(Number(totals.n)).toBe(key === minute ? 100 : 200);
      expect(Object.keys(totals).filter((f) => f.startsWith('d:'))).toEqual([]);
      expect(await redis.object('ENCODING', key)).toBe('listpack');
      // The expiry the hash had (the partition's state's) survives the rewrite: -1 would be for ever.
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    }
  });
});

describe('publishDeviceWindows', () => {
  it('writes each device once: a repeat (a crash before settle) answers already, an older window superseded', async () => {
    const { keys } = fresh();
    const scripts = defineAggregatorScripts(redis);
    const size = parseWindowSize('1m');
    const start = today - DAY_MS;
    const packed = (n: number, sum: number, min: string) =>
      `${n} ${sum} ${sum * sum} ${min} ${min} ${start + 1} ${start + 2} 0 0`;
    const parts = [
      { partition: 'a', hash: ['n', '2', 'd:one', packed(1, 50, '50'), 'd:two', packed(1, 60, '60')] },
      { partition: 'b', hash: ['n', '1', 'd:one', packed(1, 70, '70')] },
    ];
    const devices = deviceWindowsOf(parts, start);
    expect(devices.get('one')).toMatchObject({ count: 2, mean: 60, min: 50, max: 70, stddev: 10 });
    const o = { redis, scripts, keys, keepMs: HOUR_MS, indexKeepMs: DAY_MS, durability: NO_WAIT };
    expect(await publishDeviceWindows(o, size, start, devices)).toEqual({
      published: 2,
      already: 0,
      superseded: 0,
    });
    expect(await publishDeviceWindows(o, size, start, devices)).toEqual({
      published: 0,
      already: 2,
      superseded: 0,
    });
    const older = deviceWindowsOf(parts, start - 60_000);
    expect(await publishDeviceWindows(o, size, start - 60_000, older)).toEqual({
      published: 0,
      already: 0,
      superseded: 2,
    });
    expect(await redis.xlen(keys.deviceWindows('one', size))).toBe(1);
    expect(await redis.zrange(keys.devicesIndex, 0, -1, 'WITHSCORES')).toEqual([
      'one',
      String(start + 2),
      'two',
      String(start + 2),
    ]);
  });

  it('groups device keys by cluster slot for one script call each, never more than the limit', () => {
    const { keys } = fresh();
    const size = parseWindowSize('1h');
    const streams = Array.from({ length: 40 }, (_, i) => keys.deviceWindows(`sensor-${i % 13}`, size));
    for (const cluster of [true, false]) {
      const groups = deviceKeyGroups(streams, cluster, 3);
      expect(groups.flat().sort((a, b) => a - b)).toEqual(streams.map((_, i) => i));
      for (const group of groups) {
        expect(group.length).toBeLessThanOrEqual(3);
        if (cluster) expect(new Set(group.map((i) => calculateSlot(streams[i]!))).size).toBe(1);
      }
    }
    // One server: any keys share a call, so 40 keys take ceil(40 / 3) calls.
    expect(deviceKeyGroups(streams, false, 3)).toHaveLength(14);
  });
});

describe('coarser windows from the finer ones’ sealed device totals', () => {
  it('folds a window’s device totals into the coarser window once, however often it settles, and seals no coarser window while a finer one inside is open', async () => {
    const { keys } = fresh();
    const state = new AggregatorStateKeys(keys);
    const scripts = defineAggregatorScripts(redis);
    const [minute, hour] = [parseWindowSize('1m'), parseWindowSize('1h')];
    const hourStart = today - DAY_MS + 5 * HOUR_MS;
    const start = hourStart + 7 * 60_000;
    const partition = keys.partitionKeyFor(start);
    await redis.xadd(partition, '*', ...encodeReading({ device: 'one', ts: start, temp_f: 50 }));
    await redis.pexpire(partition, DAY_MS);
    await redis.xgroup('CREATE', partition, 'g', '$');
    const minuteHash = state.window(partition, minute, start);
    const hourHash = state.window(partition, hour, hourStart);
    // `n sum sq min max f l hn hsum`: the minute's two devices; the hour already holds one of them.
    await redis.hset(minuteHash, 'n', 3, 'd:one', `2 100 5000 40 60 ${start} ${start + 9} 1 30`);
    await redis.hset(minuteHash, 'd:two', `1 70 4900 70 70 ${start + 5} ${start + 5} 0 0`);
    await redis.hset(
      hourHash,
      'n',
      4,
      'devices',
      1,
      'd:one',
      `1 80 6400 80 80 ${hourStart} ${hourStart} 0 0`,
    );
    await redis.pexpire(hourHash, DAY_MS);
    await redis.zadd(state.openWindows(partition, minute), start, start);

    const seal = (mode: string) =>
      scripts.sealWindow(
        [
          partition,
          state.aggHash(partition),
          state.openWindows(partition, hour),
          hourHash,
          state.openWindows(partition, minute),
        ],
        ['g', hourStart, 100, today - DAY_MS, mode, DAY_MS, hour.ms, state.sealedField(hour)],
      );
    expect(await seal('check')).toEqual(['earlier-open', `finer ${start}`]);
    expect(await seal('seal')).toEqual(['earlier-open', `finer ${start}`]);

    const settle = () =>
      scripts.settleHour(
        [
          state.openWindows(partition, minute),
          minuteHash,
          outboxOf(partition),
          state.settledWindows(partition, minute),
          hourHash,
        ],
        [start, '', partition, keys.late],
      );
    for (let i = 0; i < 3; i++) expect(await settle()).toBe(0);
    expect(await redis.hget(minuteHash, 'settled')).toBe('1');
    expect(await seal('check')).toEqual(['sealable', '']);
    // The seal answers the hour's device totals as the hash packs them: nine doubles (a latin1 string).
    const [status, hash] = await seal('seal');
    expect(status).toBe('sealed');
    const fields = Object.fromEntries(
      (hash as string[]).flatMap((v, i, all) => (i % 2 === 0 ? [[v, all[i + 1]!]] : [])),
    );
    const doubles = (packed: string) => {
      const bytes = Buffer.from(packed, 'latin1');
      expect(bytes).toHaveLength(72);
      return Array.from({ length: 9 }, (_, i) => bytes.readDoubleLE(i * 8));
    };
    expect({ ...fields, 'd:one': doubles(fields['d:one']!), 'd:two': doubles(fields['d:two']!) }).toEqual({
      n: '4',
      devices: '2',
      'd:one': [3, 180, 11400, 40, 80, hourStart, start + 9, 1, 30],
      'd:two': [1, 70, 4900, 70, 70, start + 5, start + 5, 0, 0],
    });
  });
});
