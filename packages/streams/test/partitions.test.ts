import { describe, expect, it } from 'vitest';
import { PipelineKeys } from '../src/keys.js';
import { discoverPartitions } from '../src/partitions.js';
import { sharedServer } from './helpers.js';

const { redis, keys, prefix } = sharedServer('parts');

describe('discoverPartitions', () => {
  it('finds the partition streams, oldest day first, and ignores every other key under the prefix', async () => {
    const days = [Date.UTC(2025, 0, 2), Date.UTC(2024, 11, 31), Date.UTC(2025, 0, 1)];
    for (const day of days) await redis.xadd(keys.partitionKeyFor(day + 5), '*', 'temp_f', '70');
    const shards = [1, 0].map((index) => keys.partitionKeyFor(days[0]!, { index, count: 2 }));
    for (const shard of shards) await redis.xadd(shard, '*', 'temp_f', '70');
    const noise = [
      keys.companionKey(shards[0]!, 'agg'),
      keys.averages,
      keys.deadLetters,
      keys.late,
      keys.alerts,
      keys.companionKey(keys.partitionKeyFor(days[0]!), 'hours'),
      `${prefix}:20250230`,
      `${prefix}:20251301`,
      `${prefix}:20250101:x`,
    ];
    for (const key of noise) await redis.xadd(key, '*', 'v', '1');
    // A key with a partition's name but not a stream (e.g. left by something else) is not a partition.
    await redis.set(`${prefix}:20250103`, 'not a stream');

    expect(await discoverPartitions(redis, keys)).toEqual([
      `${prefix}:20241231`,
      `${prefix}:20250101`,
      `${prefix}:20250102`,
      shards[1],
      shards[0],
    ]);
  });

  it('finds nothing under a prefix without partitions, and never another prefix’s', async () => {
    expect(await discoverPartitions(redis, new PipelineKeys(`${prefix}-empty`))).toEqual([]);
  });

  it('pages through SCAN when there are many keys', async () => {
    const many = new PipelineKeys(`${prefix}-many`);
    const pipeline = redis.pipeline();
    const start = Date.UTC(2020, 0, 1);
    for (let d = 0; d < 400; d++) pipeline.xadd(many.partitionKeyFor(start + d * 86_400_000), '*', 'v', '1');
    for (let i = 0; i < 1500; i++) pipeline.set(`${many.prefix}:other:${i}`, '1');
    await pipeline.exec();
    const found = await discoverPartitions(redis, many);
    expect(found).toHaveLength(400);
    expect(found[0]).toBe(`${many.prefix}:20200101`);
    expect(found[399]).toBe(many.partitionKeyFor(start + 399 * 86_400_000));
  });
});
