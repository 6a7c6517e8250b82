import {
  expectWindowsToMatch,
  readingsBetween,
  sharedRedis,
  WindowTally,
  writeReadings,
} from '@pipe/fixtures';
import { ConsumerGroup, DAY_MS, HOUR_MS, WindowLayout } from '@pipe/streams';
import { expect, it } from 'vitest';
import { countBatch, inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('win');
const { drain } = inProcessAggregators();
const SIZES = ['1m', '1h', '1d'];
const windows = WindowLayout.parse(SIZES.join(','));

it.each([
  ['', windows],
  [' and in every device’s windows (--per-device)', windows.withPerDevice(true)],
])(
  'counts an entry once in every size%s when it was claimed away from a consumer that still had it in hand',
  async (_, layout) => {
    const { keys } = fresh();
    const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 4 * HOUR_MS + 20_000;
    // Five devices every 20 s over ten minutes: each minute has entries on both sides of the claim.
    const readings = readingsBetween(from, from + 10 * 60_000, 20_000, 5, 3);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    const slow = new ConsumerGroup(redis, 'aggregator', [partition], 'slow');
    await slow.create();

    // `slow` reads the batch and stalls; every third entry is handed to `quick`, which counts them.
    const inHand = (await slow.read({ count: 1000 })).get(partition)!;
    expect(inHand).toHaveLength(readings.length);
    const quick = slow.consumer('quick');
    const taken = inHand.filter((_, i) => i % 3 === 0);
    const claimed = await quick.claim(
      partition,
      taken.map((e) => e.id),
    );
    const quickRun = await countBatch(redis, keys, partition, 'quick', claimed, layout);
    const slowRun = await countBatch(redis, keys, partition, 'slow', inHand, layout);
    const again = await countBatch(redis, keys, partition, 'slow', inHand, layout);
    expect(quickRun.counted).toBe(taken.length);
    expect([slowRun.counted, slowRun.skipped]).toEqual([readings.length - taken.length, taken.length]);
    expect([again.counted, again.skipped]).toEqual([0, readings.length]);

    // Each size's totals, min, max, first, last and devices hold every reading once.
    await drain(keys, { windows: layout, perDevice: layout.perDevice });
    const tally = new WindowTally(SIZES, { perDevice: layout.perDevice }).addAll(readings);
    await expectWindowsToMatch(redis, keys, tally);
  },
);
