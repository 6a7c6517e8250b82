import { type AppProcess, appMain, sharedRedis } from '@pipe/fixtures';
import {
  DAY_MS,
  decodeAverage,
  encodeReading,
  HOUR_MS,
  hourWindowOf,
  type Reading,
  Stream,
} from '@pipe/streams';
import { sleep, waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { pendingByConsumer, startNode } from './helpers.js';
import { runReaperInProcess } from './in-process.js';

const AGGREGATOR = appMain('aggregator');
const { redis, fresh } = sharedRedis('reaper');

/** Three UTC hours of yesterday, five devices, one reading every 2 s each, temperatures with two decimals. */
function readings(): Reading[] {
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 7 * HOUR_MS;
  const out: Reading[] = [];
  for (let ts = from, i = 0; ts < from + 3 * HOUR_MS; ts += 2000) {
    for (let d = 0; d < 5; d++, i++)
      out.push({ device: `sensor-${d}`, ts, temp_f: 40 + ((i * 7919) % 4001) / 100 });
  }
  return out;
}

describe('with the aggregator', () => {
  it('reclaims the entries of an aggregator killed with kill -9, and the averages equal the exact means', async () => {
    const { keys, flags } = fresh();
    const data = readings();
    const partition = keys.partitionKeyFor(data[0]!.ts);
    for (let i = 0; i < data.length; i += 1000) {
      const pipeline = redis.pipeline();
      for (const r of data.slice(i, i + 1000)) pipeline.xadd(partition, '*', ...encodeReading(r));
      await pipeline.exec();
    }
    await redis.pexpire(partition, 3_600_000);

    // Freeze a working aggregator (SIGSTOP) until it is caught holding a batch it has not counted, then kill -9.
    let victim: AppProcess | undefined;
    let held = 0;
    for (let attempt = 0; attempt < 20 && held === 0; attempt++) {
      victim = startNode(AGGREGATOR, ['run', ...flags, '--consumer', `victim-${attempt}`, '--count', '500'], {
        LOG_LEVEL: 'warn',
      });
      const name = `victim-${attempt}`;
      await waitFor('the victim reading', async () => {
        const consumers = await pendingByConsumer(redis, partition, 'aggregator').catch(
          () => ({}) as Record<string, number>,
        );
        return consumers[name] !== undefined;
      });
      for (let probe = 0; probe < 50 && held === 0; probe++) {
        victim.child.kill('SIGSTOP');
        await sleep(20);
        held = (await pendingByConsumer(redis, partition, 'aggregator'))[name] ?? 0;
        if (held === 0) victim.child.kill('SIGCONT');
        await sleep(5);
      }
      victim.child.kill('SIGKILL');
      await victim.exited;
    }
    const victimName = Object.entries(await pendingByConsumer(redis, partition, 'aggregator')).find(
      ([, n]) => n > 0,
    )?.[0];
    expect(victimName).toBeDefined();
    expect(held).toBeGreaterThan(0);

    const survivor = startNode(
      AGGREGATOR,
      [
        'run',
        ...flags,
        '--consumer',
        'survivor',
        '--pending-check',
        '300ms',
        '--block-ms',
        '200ms',
        '--idle-close',
        '1s',
      ],
      { LOG_LEVEL: 'warn' },
    );
    // The aggregators are processes (one is frozen and killed -9); the reaper runs in this process.
    const reaper = runReaperInProcess(redis, keys, {
      holder: 'reaper',
      minIdleMs: 1000,
      liveWithinMs: 3000,
      intervalMs: 200,
      leaseTtlMs: 2000,
    });

    const expected = new Map<number, number[]>();
    for (const r of data) {
      const hour = hourWindowOf(r.ts).start;
      expected.set(hour, [...(expected.get(hour) ?? []), r.temp_f]);
    }
    await waitFor(
      'every hour published',
      async () => (await redis.xlen(keys.averages)) === expected.size,
      40_000,
    );

    const published = (await new Stream(redis, keys.averages).range()).map((e) =>
      decodeAverage(e.id, e.fields),
    );
    expect(published.map((p) => p.ok && p.value.hourStart)).toEqual([...expected.keys()]);
    for (const p of published) {
      if (!p.ok) throw p.error;
      const temps = expected.get(p.value.hourStart)!;
      expect(p.value.num_observations).toBe(temps.length);
      expect(p.value.average_temp_f).toBeCloseTo(temps.reduce((a, b) => a + b, 0) / temps.length, 9);
      expect(p.value.min_temp_f).toBe(Math.min(...temps));
      expect(p.value.max_temp_f).toBe(Math.max(...temps));
    }
    const claimed = reaper.events.filter((e) => e.msg === 'claimed stale entries');
    expect(claimed.map((e) => [e.consumer, e.count])).toEqual([['survivor', held]]);
    expect((await redis.xpending(partition, 'aggregator')) as unknown[]).toEqual([0, null, null, null]);

    survivor.child.kill('SIGTERM');
    await reaper.reaper.stop();
    expect((await survivor.exited).code).toBe(0);
  });
});
