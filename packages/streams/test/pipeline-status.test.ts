import { describe, expect, it } from 'vitest';
import { ConsumerGroup } from '../src/consumer-group.js';
import { redisMemory } from '../src/memory.js';
import { pipelineStatus } from '../src/pipeline-status.js';
import { sharedServer } from './helpers.js';

const { redis, keys } = sharedServer('status');

describe('pipelineStatus', () => {
  it('reports each partition with its expiry, IDs, groups and uncounted entries, the side streams and the lease', async () => {
    const day = Date.UTC(2025, 4, 6);
    const partition = keys.partitionKeyFor(day);
    for (let i = 1; i <= 4; i++) await redis.xadd(partition, `${day + i}-0`, 'temp_f', '70');
    const expiresAt = Date.now() + 86_400_000;
    await redis.pexpireat(partition, expiresAt);
    const group = new ConsumerGroup(redis, 'aggregator', [partition], 'agg-1');
    await group.create({ id: '0' });
    // One entry read and acknowledged, one read and left pending, two never delivered.
    const [first] = (await group.read({ count: 1 })).get(partition)!;
    await group.ack(partition, first!.id);
    await group.read({ count: 1 });
    await redis.xadd(keys.deadLetters, '*', 'reason', 'poison');
    await redis.xadd(keys.late, '*', 'temp_f', '70');
    await redis.set(keys.reaperLease, 'reaper-1', 'PX', 30_000);

    const status = await pipelineStatus(redis, keys);

    expect(status.partitions).toHaveLength(1);
    const [p] = status.partitions;
    expect(p).toMatchObject({
      key: partition,
      length: 4,
      expiresAt,
      firstId: `${day + 1}-0`,
      lastId: `${day + 4}-0`,
      removedEntries: 0,
      uncounted: 3,
    });
    expect(p!.groups).toHaveLength(1);
    expect(p!.groups[0]).toMatchObject({
      name: 'aggregator',
      pending: 1,
      oldestPendingId: `${day + 2}-0`,
      lag: 2,
      entriesRead: 2,
      lastDeliveredId: `${day + 2}-0`,
    });
    expect(p!.groups[0]!.consumers.map((c) => c.name)).toEqual(['agg-1']);
    expect(status).toMatchObject({ deadLetters: 1, late: 1, alerts: 0, averages: 0 });
    expect(status.reaperLease?.holder).toBe('reaper-1');
    expect(status.reaperLease?.ttlMs).toBeGreaterThan(0);
    expect(status.memory).toHaveLength(1);
  });

  it('says null where nothing is pending and no reaper holds the lease', async () => {
    const other = sharedServer('status-empty');
    const partition = other.keys.partitionKeyFor(Date.UTC(2025, 4, 7));
    await other.redis.xadd(partition, '*', 'temp_f', '70');
    await new ConsumerGroup(other.redis, 'aggregator', [partition]).create({ id: '$' });

    const status = await pipelineStatus(other.redis, other.keys);

    expect(status.reaperLease).toBeNull();
    expect(status.partitions[0]).toMatchObject({ expiresAt: null, ttlMs: -1, uncounted: 0 });
    expect(status.partitions[0]!.groups[0]).toMatchObject({
      pending: 0,
      oldestPendingId: null,
      oldestPendingIdleMs: null,
    });
  });
});

describe('redisMemory', () => {
  it('reads used memory, the limit, the eviction policy and evicted keys from INFO', async () => {
    const [memory] = await redisMemory(redis);
    const setting = async (name: string) => ((await redis.config('GET', name)) as string[])[1];
    const limit = Number(await setting('maxmemory'));
    const policy = await setting('maxmemory-policy');
    expect(memory!.node).toMatch(/:\d+$/);
    expect(memory!.usedBytes).toBeGreaterThan(0);
    expect(memory!.maxBytes).toBe(limit);
    expect(memory!.policy).toBe(policy);
    expect(Number.isInteger(memory!.evictedKeys)).toBe(true);
  });
});
