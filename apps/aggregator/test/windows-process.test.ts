import { expectWindowsToMatch, readingsBetween, runApp, sharedRedis, WindowTally } from '@pipe/fixtures';
import { DAY_MS, type Reading, shardOfDevice } from '@pipe/streams';
import { describe, expect, it } from 'vitest';

const { redis, fresh } = sharedRedis('win');
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;

describe('pipe-aggregator run --windows', () => {
  it('refuses invalid windows and keeps before connecting, listing every problem', async () => {
    const { code, stdout, stderr } = await runApp('aggregator', [
      'run',
      '--redis-url',
      'redis://127.0.0.1:1',
      '--windows',
      '1m,1d',
      '--keep',
      '1m=soon',
    ]);
    expect(code).toBe(1);
    const out = stdout + stderr;
    expect(out).toContain('lack 1h');
    expect(out).toContain('not a keep: "1m=soon"');
  });

  it('refuses a --keep of a size --windows lacks, and runs AGGREGATOR_WINDOWS, across two shards, exactly', async () => {
    const { keys, flags } = fresh();
    const refused = await runApp('aggregator', [
      'run',
      '--drain',
      ...flags,
      '--windows',
      '1m,1h',
      '--keep',
      '1d=30d',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(
      '--keep names 1d, which is not among the windows 1m,1h',
    );

    // Two shards of each day, a device's readings in its shard, across a UTC midnight.
    const midnight = today - DAY_MS;
    const readings = readingsBetween(midnight - 40 * 60_000, midnight + 30 * 60_000, 15_000, 4, 8);
    const shardOf = (r: Reading) =>
      keys.partitionKeyFor(r.ts, { index: shardOfDevice(r.device, 2), count: 2 });
    const pipeline = redis.pipeline();
    for (const r of readings)
      pipeline.xadd(
        shardOf(r),
        '*',
        'device',
        r.device,
        'ts',
        String(r.ts),
        'temp_f',
        String(r.temp_f),
        ...(r.humidity === undefined ? [] : ['humidity', String(r.humidity)]),
      );
    await pipeline.exec();
    const shards = new Set(readings.map(shardOf));
    expect(shards.size).toBe(4);
    for (const shard of shards) await redis.pexpire(shard, DAY_MS * 3);
    const { code, stderr } = await runApp('aggregator', ['run', '--drain', ...flags], {
      AGGREGATOR_WINDOWS: '5m,1h,1d',
      AGGREGATOR_KEEP: '5m=1d',
    });
    expect(code, stderr).toBe(0);
    await expectWindowsToMatch(redis, keys, new WindowTally(['5m', '1h', '1d']).addAll(readings));
    expect(await redis.hgetall(keys.windowsLayout)).toEqual({ 0: '5m,1h,1d' });

    // The default started on that pipeline: one line naming both layouts and the fix, exit 1.
    const mismatched = await runApp('aggregator', ['run', '--drain', ...flags]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr.trim().split('\n')).toEqual([
      `pipe-aggregator: ${keys.averages} is counted with --windows 5m,1h,1d, not --windows 1h: run with --windows 5m,1h,1d, ` +
        'or stop the aggregators of --windows 5m,1h,1d and start once with --change-windows to count with --windows 1h from the next UTC midnight',
    ]);
  });
});
