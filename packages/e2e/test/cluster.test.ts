import { appMain, expectWindowsToMatch, runApp, WindowTally } from '@pipe/fixtures';
import {
  connect,
  DAY_MS,
  decodeAverage,
  decodeReading,
  HOUR_MS,
  hourWindowOf,
  PipelineKeys,
} from '@pipe/streams';
import { clusterPerFile, freePort, randomPrefix, startNode, waitFor } from '@pipe/testkit';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';

const cluster = clusterPerFile((seeds) => connect({ clusterNodes: seeds }) as Cluster);

interface Expected {
  n: number;
  sum: number;
  min: number;
  max: number;
  devices: Set<string>;
}

/** Every key under the prefix on each master: the keys a master holds are the ones SCAN finds on it. */
async function keysByMaster(prefix: string): Promise<string[][]> {
  return Promise.all(
    cluster.redis.nodes('master').map(async (node) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        found.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      return found;
    }),
  );
}

/** GETs a JSON endpoint of a server that is still starting. */
function waitForJson(url: string): Promise<unknown> {
  return waitFor(`${url} to answer`, async () => {
    // Refused while the server is not listening yet.
    const response = await fetch(url).catch(() => undefined);
    return response?.ok ? ((await response.json()) as unknown) : undefined;
  });
}

describe('on a 3-master Redis Cluster', () => {
  it('producer with 3 shards, two aggregators (--windows 1m,1h,1d --per-device), the reaper and the viewer publish exact averages, once per window and device', async () => {
    const prefix = randomPrefix('cluster');
    const keys = new PipelineKeys(prefix);
    const flags = ['--cluster-nodes', cluster.servers.seeds, '--prefix', prefix];
    // Six hours across a midnight, in the past whatever the time of day.
    const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS - 3 * HOUR_MS;
    const to = from + 6 * HOUR_MS - 1;

    const produced = await runApp('producer', [
      'backfill',
      ...flags,
      '--shards',
      '3',
      '--retention',
      '7d',
      '--from',
      String(from),
      '--to',
      String(to),
      '--devices',
      '9',
      '--interval',
      '20s',
    ]);
    expect(produced.code, produced.stderr).toBe(0);

    // Each day is three shards, and the shards live on all three masters.
    const partitions = (await keysByMaster(prefix)).map((onMaster) =>
      onMaster.filter((key) => keys.isPartitionKey(key)),
    );
    expect(partitions.map((onMaster) => onMaster.length)).toEqual([2, 2, 2]);
    const shards = partitions.flat().sort();

    // A poison entry, and a consumer that crashed holding entries: the reaper must hand them on.
    await cluster.redis.xadd(shards[0]!, '*', 'device', 'bad', 'ts', String(from + 1000), 'temp_f', 'warm');
    await cluster.redis.xgroup('CREATE', shards[4]!, 'aggregator', '0');
    await cluster.redis.xreadgroup('GROUP', 'aggregator', 'crashed', 'COUNT', 7, 'STREAMS', shards[4]!, '>');

    // What the averages must be, computed from the partitions themselves.
    const expected = new Map<number, Expected>();
    const tally = new WindowTally(['1m', '1h', '1d'], { perDevice: true });
    for (const shard of shards) {
      for (const [id, fields] of await cluster.redis.xrange(shard, '-', '+')) {
        const decoded = decodeReading(id, fields);
        if (!decoded.ok) continue;
        tally.add(decoded.value);
        const { ts, temp_f, device } = decoded.value;
        const hour = hourWindowOf(ts).start;
        const e = expected.get(hour) ?? { n: 0, sum: 0, min: temp_f, max: temp_f, devices: new Set() };
        e.n++;
        e.sum += temp_f;
        e.min = Math.min(e.min, temp_f);
        e.max = Math.max(e.max, temp_f);
        e.devices.add(device);
        expected.set(hour, e);
      }
    }
    expect(expected.size).toBe(6);

    const reaper = startNode(
      appMain('reaper'),
      ['run', ...flags, '--interval', '300ms', '--min-idle', '1s', '--live-within', '5s'],
      { env: { LOG_LEVEL: 'warn' } },
    );
    try {
      const drains = await Promise.all(
        ['a', 'b'].map((name) =>
          runApp(
            'aggregator',
            ['run', '--drain', ...flags, '--consumer', `agg-${name}`],
            // Every device's results, each on its device's slot: one call per device, across masters.
            { AGGREGATOR_WINDOWS: '1m,1h,1d', AGGREGATOR_PER_DEVICE: 'true', AGGREGATOR_KEEP: '1m=1d' },
            90_000,
          ),
        ),
      );
      for (const drain of drains) expect(drain.code, drain.stderr).toBe(0);
    } finally {
      reaper.kill('SIGTERM');
      expect((await reaper.exited).code, reaper.stderr()).toBe(0);
    }

    const averages = (await cluster.redis.xrange(keys.averages, '-', '+')).map(([id, fields]) => {
      const decoded = decodeAverage(id, fields);
      if (!decoded.ok) throw decoded.error;
      return { id, ...decoded.value };
    });
    expect(averages.map((a) => a.id)).toEqual(
      [...expected.keys()].sort((a, b) => a - b).map((h) => `${h}-0`),
    );
    for (const average of averages) {
      const e = expected.get(Number(average.id.split('-')[0]))!;
      expect(average.num_observations).toBe(e.n);
      expect(average.average_temp_f).toBeCloseTo(e.sum / e.n, 9);
      expect(average.min_temp_f).toBe(e.min);
      expect(average.max_temp_f).toBe(e.max);
      expect(average.devices).toBe(e.devices.size);
    }
    expect(await cluster.redis.xlen(keys.deadLetters)).toBe(1);
    expect(await cluster.redis.xlen(keys.late)).toBe(0);
    await expectWindowsToMatch(cluster.redis, keys, tally);

    const tail = await runApp('averages-viewer', ['tail', ...flags, '--json']);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split('\n')).toHaveLength(6);

    const port = await freePort();
    const dashboard = startNode(appMain('averages-viewer'), ['serve', ...flags, '--port', String(port)], {
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const status = (await waitForJson(`http://127.0.0.1:${port}/api/status`)) as {
        pipeline: { partitions: { key: string }[]; averages: number; deadLetters: number };
      };
      expect(status.pipeline.partitions.map((p) => p.key).sort()).toEqual(shards);
      expect(status.pipeline).toMatchObject({ averages: 6, deadLetters: 1 });
      const served = (await waitForJson(`http://127.0.0.1:${port}/api/averages?from=${from}`)) as {
        averages: unknown[];
      };
      expect(served.averages).toHaveLength(6);
    } finally {
      dashboard.kill('SIGTERM');
      await dashboard.exited;
    }
  });
});
