import {
  expectWindowsToMatch,
  readingsBetween,
  sharedRedis,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import {
  ConsumerGroup,
  DAY_MS,
  fieldsToObject,
  HOUR_MS,
  type PipelineKeys,
  type StreamEntry,
  WindowLayout,
} from '@pipe/streams';
import { expect, it } from 'vitest';
import { accumulateCall } from '../src/accumulate-call.js';
import { DeviceTotalsCache } from '../src/device-totals-cache.js';
import { defineAggregatorScripts } from '../src/scripts.js';
import { AggregatorStateKeys } from '../src/state-keys.js';
import { countBatch, inProcessAggregators } from './in-process.js';

// The device totals cache only spares the script work: with it or without, the hashes must hold the
// same bytes, and whatever it cannot know (another consumer's counts) must take the script's merge.
const { redis, fresh } = sharedRedis('dtc');
const { drain } = inProcessAggregators();
const SIZES = ['1m', '1h', '1d'];
const layout = WindowLayout.parse(SIZES.join(',')).withPerDevice(true);
const MINUTE = 60_000;

/** Ten minutes of seven devices every 10 s (with humidity on some), written to a fresh prefix. */
async function scenario() {
  const { keys } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 3 * HOUR_MS + 5_000;
  const readings = readingsBetween(from, from + 10 * MINUTE, 10_000, 7, 5);
  await writeReadings(redis, keys, readings);
  const partition = keys.partitionKeyFor(from);
  const group = new ConsumerGroup(redis, 'aggregator', [partition], 'reader');
  await group.create();
  const entries = (await group.read({ count: 10_000 })).get(partition)!;
  expect(entries).toHaveLength(readings.length);
  return { keys, from, readings, partition, entries };
}

/** Every `d:<device>` field of each 1m window's hash, as bytes, by window start. */
async function deviceFields(keys: PipelineKeys, partition: string, from: number) {
  const state = new AggregatorStateKeys(keys);
  const size = layout.finest;
  const out: Record<string, Record<string, string>> = {};
  for (let start = from - (from % MINUTE); start < from + 10 * MINUTE; start += MINUTE) {
    const hash = await redis.hgetallBuffer(state.window(partition, size, start));
    out[start] = Object.fromEntries(
      Object.entries(hash)
        .filter(([field]) => field.startsWith('d:'))
        .map(([field, value]) => [field, value.toString('hex')]),
    );
  }
  return out;
}

const batches = (entries: StreamEntry[], size: number) =>
  Array.from({ length: Math.ceil(entries.length / size) }, (_, i) => entries.slice(i * size, (i + 1) * size));

it('stores, with the cache, byte for byte the device totals the script merges without it', async () => {
  const cached = await scenario();
  const plain = await scenario();
  const cache = new DeviceTotalsCache();
  let expected = 0;
  // Batches of 5 entries: a device's readings of a minute fall in several batches, merged each time.
  for (const batch of batches(cached.entries, 5)) {
    const run = await countBatch(redis, cached.keys, cached.partition, 'reader', batch, layout, cache);
    expect(run.merged).toEqual([]);
    expected += (JSON.parse(String(run.call.args[5])) as unknown[][]).filter((w) => w.length > 12).length;
  }
  for (const batch of batches(plain.entries, 5))
    await countBatch(redis, plain.keys, plain.partition, 'reader', batch, layout);
  // Every batch's windows came with expected totals (none was unknown), and the script stored them.
  expect(expected).toBeGreaterThanOrEqual(batches(cached.entries, 5).length);

  const withCache = await deviceFields(cached.keys, cached.partition, cached.from);
  const devicesPerWindow = Object.values(withCache).map((devices) => Object.keys(devices).length);
  expect(devicesPerWindow.filter((n) => n > 0)).toEqual(Array(10).fill(7));
  expect(withCache).toEqual(await deviceFields(plain.keys, plain.partition, plain.from));

  await drain(cached.keys, { windows: layout, perDevice: true });
  // Settled windows keep their totals, not what only counting needed (the devices, the last token).
  const settled = await deviceFields(cached.keys, cached.partition, cached.from);
  expect(Object.values(settled).every((devices) => Object.keys(devices).length === 0)).toBe(true);
  const state = new AggregatorStateKeys(cached.keys);
  const firstWindow = state.window(cached.partition, layout.finest, cached.from - (cached.from % MINUTE));
  expect(await redis.hget(firstWindow, 'settled')).toBe('1');
  expect(await redis.hexists(firstWindow, 'dv')).toBe(0);
  await expectWindowsToMatch(
    redis,
    cached.keys,
    new WindowTally(SIZES, { perDevice: true }).addAll(cached.readings),
  );
});

it('merges in the script, and says so, where another consumer counted into the window meanwhile', async () => {
  const { keys, readings, partition, entries } = await scenario();
  const cache = new DeviceTotalsCache();
  const [first, second, third, ...rest] = batches(entries, 9);
  expect((await countBatch(redis, keys, partition, 'reader', first!, layout, cache)).merged).toEqual([]);
  // Another consumer (no cache: another instance) counts the next batch: the same 1m window.
  const group = new ConsumerGroup(redis, 'aggregator', [partition], 'reader');
  const other = group.consumer('other');
  const claimed = await other.claim(
    partition,
    second!.map((e) => e.id),
  );
  await countBatch(redis, keys, partition, 'other', claimed, layout);
  const third1 = await countBatch(redis, keys, partition, 'reader', third!, layout, cache);
  expect(third1.merged.length).toBeGreaterThan(0);
  // Once the script merged a window, the cache sends no expectation for it.
  expect(cache.window(third1.merged[0]!)).toBeUndefined();
  for (const batch of rest) await countBatch(redis, keys, partition, 'reader', batch, layout, cache);

  await drain(keys, { windows: layout, perDevice: true });
  await expectWindowsToMatch(redis, keys, new WindowTally(SIZES, { perDevice: true }).addAll(readings));
});

it('merges a batch that runs after a later one of the same window, however the counts add up', async () => {
  const { keys, readings, partition, entries } = await scenario();
  const cache = new DeviceTotalsCache();
  const context = {
    keys,
    state: new AggregatorStateKeys(keys),
    group: 'aggregator',
    consumer: 'reader',
    now: Date.now(),
    stateAfterPartitionMs: 0,
    deviceTotals: cache,
  };
  // Fifteen entries of one 1m window, whatever the stream's order.
  const minuteOf = (e: StreamEntry) => Math.floor(Number(fieldsToObject(e.fields).ts) / MINUTE);
  const first = minuteOf(entries[0]!);
  const inWindow = entries.filter((e) => minuteOf(e) === first).slice(0, 15);
  expect(inWindow).toHaveLength(15);
  // This instance lays out two batches (the second expects the hash as the first leaves it: n = 5).
  const k = accumulateCall({ stream: partition, entries: inWindow.slice(0, 5) }, context, layout);
  const next = accumulateCall({ stream: partition, entries: inWindow.slice(5, 10) }, context, layout);
  // Another consumer counts five other readings of the window first: the hash's n is 5, as expected.
  const other = new ConsumerGroup(redis, 'aggregator', [partition], 'reader').consumer('other');
  const claimed = await other.claim(
    partition,
    inWindow.slice(10).map((e) => e.id),
  );
  await countBatch(redis, keys, partition, 'other', claimed, layout);
  // Then the second runs before the first (a redirect can reorder them): both must merge.
  const scripts = defineAggregatorScripts(redis);
  const [, , , , nextMerged] = await scripts.accumulateBatch(next.keys, next.args);
  const [, , , , kMerged] = await scripts.accumulateBatch(k.keys, k.args);
  expect([nextMerged, kMerged]).toEqual([[1], [1]]);
  const counted = new Set(inWindow.map((e) => e.id));
  const rest = entries.filter((e) => !counted.has(e.id));
  for (const batch of batches(rest, 50))
    await countBatch(redis, keys, partition, 'reader', batch, layout, cache);

  await drain(keys, { windows: layout, perDevice: true });
  await expectWindowsToMatch(redis, keys, new WindowTally(SIZES, { perDevice: true }).addAll(readings));
});
