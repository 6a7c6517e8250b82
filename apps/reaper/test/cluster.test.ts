import { connect, PipelineKeys, pipelineStatus, whenReady } from '@pipe/streams';
import { clusterPerFile, sleep } from '@pipe/testkit';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { sweepOnce } from './in-process.js';

const cluster = clusterPerFile((seeds) => connect({ clusterNodes: seeds }) as Cluster);

describe('on a 3-master Redis Cluster', () => {
  it('sweeps partitions on every master: claims, dead-letters across slots, removes idle consumers, and reports status', async () => {
    await whenReady(cluster.redis);
    const days = [0, 1, 2, 3].map((d) => Date.UTC(2025, 0, 1 + d));
    // The partitions must live on more than one master, so discovery has to SCAN them all.
    const prefix = await cluster.servers.prefixSpanning('reaperc', (p) =>
      days.map((d) => new PipelineKeys(p).partitionKeyFor(d)),
    );
    const keys = new PipelineKeys(prefix);
    const partitions = days.map((d) => keys.partitionKeyFor(d));
    for (const partition of partitions) {
      for (let i = 0; i < 5; i++) await cluster.redis.xadd(partition, '*', 'temp_f', String(60 + i));
      await cluster.redis.xgroup('CREATE', partition, 'g', '0');
      await cluster.redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 4, 'STREAMS', partition, '>');
      // The fifth entry: read by another dead consumer three times (max deliveries).
      await cluster.redis.xreadgroup('GROUP', 'g', 'crashy', 'STREAMS', partition, '>');
      for (let i = 0; i < 2; i++)
        await cluster.redis.xreadgroup('GROUP', 'g', 'crashy', 'STREAMS', partition, '0');
      await cluster.redis.xgroup('CREATECONSUMER', partition, 'g', 'live');
    }
    await sleep(1200);
    // The live consumer re-reads its PEL, as a ConsumerLoop does: seen now, and every 100 ms after.
    const seeLive = () =>
      Promise.all(
        partitions.map((p) => cluster.redis.xreadgroup('GROUP', 'g', 'live', 'COUNT', 1, 'STREAMS', p, '0')),
      );
    await seeLive();
    const keepAlive = setInterval(() => void seeLive(), 100);
    const summary = await sweepOnce(cluster.redis, keys, {
      minIdleMs: 1000,
      maxDeliveries: 3,
      liveWithinMs: 1000,
      consumerTtlMs: 1000,
    });
    clearInterval(keepAlive);
    expect(summary).toMatchObject({
      partitions: 4,
      groups: 4,
      reclaimed: 16,
      deadLettered: 4,
      consumersRemoved: 8,
      complete: true,
    });
    expect(await cluster.redis.xlen(keys.deadLetters)).toBe(4);
    for (const p of partitions) {
      const consumers = (await cluster.redis.call('XINFO', 'CONSUMERS', p, 'g')) as unknown[][];
      expect(consumers.map((c) => [c[1], c[3]])).toEqual([['live', 4]]);
    }

    const report = await pipelineStatus(cluster.redis, keys);
    expect(report.partitions.map((p: { key: string }) => p.key)).toEqual(partitions);
    expect(report.deadLetters).toBe(4);
  });
});
