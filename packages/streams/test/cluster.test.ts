import { clusterPerFile } from '@pipe/testkit';
import type { Cluster } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConsumerGroup } from '../src/consumer-group.js';
import { PipelineKeys } from '../src/keys.js';
import { discoverPartitions } from '../src/partitions.js';
import { connect, whenReady } from '../src/redis.js';
import { Stream } from '../src/stream.js';

const cluster = clusterPerFile((seeds) => connect({ clusterNodes: seeds }) as Cluster);
let keys: PipelineKeys;
let partitions: string[];
const days = [Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 2), Date.UTC(2025, 0, 3), Date.UTC(2025, 0, 4)];
const partitionsOf = (prefix: string) => days.map((d) => new PipelineKeys(prefix).partitionKeyFor(d));

beforeAll(async () => {
  const prefix = await cluster.servers.prefixSpanning('cluster', partitionsOf);
  keys = new PipelineKeys(prefix);
  partitions = partitionsOf(prefix);
  await whenReady(cluster.redis);
});

describe('on a 3-master Redis Cluster', () => {
  it('spreads the test partitions over more than one slot and master (so the next tests mean something)', async () => {
    const slots = await Promise.all(partitions.map((k) => cluster.redis.cluster('KEYSLOT', k)));
    expect(new Set(slots).size).toBeGreaterThan(1);
    const owners = new Set(
      partitions.map((k) => cluster.redis.slots[Number(slots[partitions.indexOf(k)])]?.[0]),
    );
    expect(owners.size).toBeGreaterThan(1);
  });

  it('puts a companion key in its partition’s slot', async () => {
    for (const partition of partitions) {
      const companion = keys.companionKey(partition, 'hours');
      expect(await cluster.redis.cluster('KEYSLOT', companion)).toBe(
        await cluster.redis.cluster('KEYSLOT', partition),
      );
    }
  });

  it('ConsumerGroup creates, reads with a count and blocks across streams in different slots', async () => {
    const cg = new ConsumerGroup(cluster.redis, 'agg', partitions);
    expect(Object.values(await cg.create())).toEqual([true, true, true, true]);
    expect(Object.values(await cg.create())).toEqual([false, false, false, false]);
    const added: string[][] = [];
    for (const p of partitions)
      added.push([
        await new Stream(cluster.redis, p).add({ temp_f: 1 }),
        await new Stream(cluster.redis, p).add({ temp_f: 2 }),
      ]);

    const first = await cg.read({ count: 1 });
    expect(new Set(first.keys())).toEqual(new Set(partitions));
    for (const [i, p] of partitions.entries()) expect(first.get(p)?.map((e) => e.id)).toEqual([added[i]![0]]);

    const own = await cg.read({ id: '0' });
    for (const [i, p] of partitions.entries()) expect(own.get(p)?.map((e) => e.id)).toEqual([added[i]![0]]);

    const rest = await cg.read({ count: 10, block: 100 });
    for (const [i, p] of partitions.entries()) expect(rest.get(p)?.map((e) => e.id)).toEqual([added[i]![1]]);

    const started = Date.now();
    expect((await cg.read({ block: 150 })).size).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(130);
    // Four streams on three masters: one holds two. Blocking reads on a node's one connection would
    // wait one after the other (1000 ms); the read returns after its own 500.
    const idleFrom = Date.now();
    expect((await cg.read({ block: 500 })).size).toBe(0);
    expect(Date.now() - idleFrom).toBeLessThan(900);

    const blocking = connect({ clusterNodes: cluster.servers.seeds.split(',') });
    try {
      const waiting = new ConsumerGroup(blocking, 'agg', partitions).read({ block: 1000 });
      await new Promise((r) => setTimeout(r, 100));
      const late = await new Stream(cluster.redis, partitions[2]!).add({ temp_f: 3 });
      const woke = await waiting;
      expect(woke.get(partitions[2]!)?.map((e) => e.id)).toEqual([late]);
    } finally {
      blocking.disconnect();
    }
    expect(await cg.destroy()).toBe(4);
  });

  it('discoverPartitions scans every master and ignores non-partition keys', async () => {
    for (const other of [keys.averages, keys.deadLetters, keys.companionKey(partitions[0]!, 'hours')]) {
      await cluster.redis.xadd(other, '*', 'v', '1');
    }
    expect(await discoverPartitions(cluster.redis, keys)).toEqual(partitions);
  });
});
