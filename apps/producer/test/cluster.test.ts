import { summaryOf } from '@pipe/fixtures';
import { DAY_MS, PipelineKeys } from '@pipe/streams';
import { clusterPerFile, randomPrefix } from '@pipe/testkit';
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { runInProcess } from './in-process.js';
import { yesterdayUtc } from './inputs.js';

const cluster = clusterPerFile(
  (seeds) => new Cluster(seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }))),
);

describe('on a Redis Cluster', () => {
  it('writes partitions with their expiry, and reset finds and deletes keys on every master', async () => {
    const prefix = randomPrefix('producer');
    const keys = new PipelineKeys(prefix);
    const from = yesterdayUtc() + DAY_MS - 60_000;
    const run = await runInProcess('backfill', {
      clusterNodes: cluster.servers.seeds,
      prefix,
      from: String(from),
      to: String(from + 120_000),
      devices: '3',
      json: true,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: 360, partitions: 2 });
    for (const key of [keys.partitionKeyFor(from), keys.partitionKeyFor(from + 120_000)]) {
      expect(await cluster.redis.xlen(key)).toBe(180);
      expect(await cluster.redis.pexpiretime(key)).toBeGreaterThan(Date.now());
    }
    // Keys that hash to different slots, so that they spread over the masters.
    const extra = Array.from({ length: 30 }, (_, i) => `${prefix}:viewer:v${i}`);
    for (const key of extra) await cluster.redis.set(key, '1');
    const masters = cluster.redis.nodes('master');
    const perMaster = await Promise.all(masters.map((m) => m.dbsize()));
    expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);

    const reset = await runInProcess('reset', { clusterNodes: cluster.servers.seeds, prefix, yes: true });
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`reset: deleted ${extra.length + 4} keys under ${prefix}`);
    expect(await Promise.all(masters.map((m) => m.dbsize()))).toEqual(masters.map(() => 0));
  });

  it('with --shards 3 writes each day as three streams, one on each master, a device always to one', async () => {
    const prefix = randomPrefix('shards');
    const keys = new PipelineKeys(prefix);
    const from = yesterdayUtc();
    const run = await runInProcess('backfill', {
      clusterNodes: cluster.servers.seeds,
      prefix,
      shards: '3',
      from: String(from),
      to: String(from + 600_000),
      devices: '12',
      json: true,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: 12 * 600, partitions: 3 });
    const shards = [0, 1, 2].map((index) => keys.partitionKeyFor(from, { index, count: 3 }));
    let total = 0;
    const masterOf = new Set<string>();
    for (const shard of shards) {
      const entries = await cluster.redis.xrange(shard, '-', '+');
      total += entries.length;
      const devices = new Set(entries.map(([, fields]) => fields[fields.indexOf('device') + 1]));
      expect(devices.size).toBeGreaterThan(0);
      for (const other of shards.filter((s) => s !== shard)) {
        const theirs = await cluster.redis.xrange(other, '-', '+');
        for (const [, fields] of theirs)
          expect(devices.has(fields[fields.indexOf('device') + 1])).toBe(false);
      }
      const slot = (await cluster.redis.cluster('KEYSLOT', shard)) as number;
      const owner = (await cluster.redis.cluster('SLOTS')).find(([lo, hi]) => slot >= lo && slot <= hi);
      const [host, port] = owner![2]!;
      masterOf.add(`${host}:${port}`);
    }
    expect(total).toBe(12 * 600);
    expect(masterOf.size).toBe(3);
  });
});
