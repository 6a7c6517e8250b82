import { fileURLToPath } from 'node:url';
import { runApp } from '@pipe/fixtures';
import { randomPrefix, RedisServer, runNode } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

const PLAN = fileURLToPath(new URL('../../../scripts/plan.mjs', import.meta.url));
const DAY = 86_400_000;
/** How long the producer's backfill and the aggregator's drain may take: minutes while CI's lanes share the cores. */
const RUN_MS = 240_000;

interface PlanJson {
  peak: { total: number; readingsKept: number; partitions: number; bytes: Record<string, number> };
  least: { total: number; readingsKept: number };
  servers?: { node: string; need: number; fits?: boolean; recommended: number }[];
  figures: { emptyServer: number };
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

async function plan(args: string[]): Promise<PlanJson> {
  const exit = await runNode(PLAN, [...args, '--json'], { timeoutMs: 20_000 });
  expect(exit.code, exit.stderr).toBe(0);
  return JSON.parse(exit.stdout) as PlanJson;
}

/**
 * The peak of a pipeline with a 2-day retention is three whole days of partitions (the day before
 * yesterday expires just before midnight): written here as three past days by the real producer (with
 * a longer retention, so that it accepts them; the expiry's value takes no more memory), drained by
 * the real aggregator. used_memory then, less the empty server's, is what `pnpm plan` must estimate.
 */
async function measureThreeDays(flags: string[], readings: number, aggregatorFlags: string[] = []) {
  // A fresh server each time: one that held keys before reports more used_memory once they are gone.
  const server = await RedisServer.start();
  const redis = new Redis(server.url);
  try {
    return await measureOn(server, redis, flags, readings, aggregatorFlags);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

async function measureOn(
  server: RedisServer,
  redis: Redis,
  flags: string[],
  readings: number,
  aggregatorFlags: string[],
) {
  const before = await usedMemory(redis);
  const prefix = randomPrefix('plan');
  const today = Math.floor(Date.now() / DAY) * DAY;
  const written = await runApp(
    'producer',
    [
      'backfill',
      ...['--redis-url', server.url, '--prefix', prefix, '--json'],
      ...['--from', String(today - 3 * DAY), '--to', String(today), '--retention', '5d', '--id-from-time'],
      ...flags,
    ],
    {},
    RUN_MS,
  );
  expect(written.code, written.stderr).toBe(0);
  expect(JSON.parse(written.stdout.trim().split('\n').pop()!).readings).toBe(readings);
  const drained = await runApp(
    'aggregator',
    ['run', '--drain', '--redis-url', server.url, '--prefix', prefix, ...aggregatorFlags],
    {},
    RUN_MS,
  );
  expect(drained.code, drained.stderr).toBe(0);
  expect(await redis.xlen(`${prefix}:averages`)).toBe(72);
  const total = (await usedMemory(redis)) - before;
  // By kind, for the report when the estimate is off: used_memory freed by deleting each kind.
  const keys = await redis.keys(`*${prefix}*`);
  const byKind: Record<string, number> = {};
  for (const [kind, pattern] of [
    ['devices', /:devices?[:}]|:devices$/],
    ['state', new RegExp(`^\\{${prefix}:\\d{8}\\}:(agg|open|settled|hour|win)`)],
    ['ledgers', /:batches$/],
    ['partitions', new RegExp(`^${prefix}:\\d{8}`)],
  ] as const) {
    const some = keys.filter((k) => pattern.test(k));
    if (some.length === 0) continue;
    const used = await usedMemory(redis);
    await redis.del(...some);
    byKind[kind] = used - (await usedMemory(redis));
  }
  return { total, byKind };
}

describe('pnpm plan', () => {
  it(
    'estimates within 15 % the memory of three days of 40 devices reading every minute, written in batches of 1000',
    async () => {
      const { total: measured, byKind } = await measureThreeDays(
        ['--devices', '40', '--interval', '1m'],
        3 * 1440 * 40,
      );
      const estimate = await plan([
        '--devices',
        '40',
        '--interval',
        '1m',
        '--retention',
        '2d',
        '--batch-size',
        '1000',
      ]);
      const pipeline = estimate.peak.total - estimate.figures.emptyServer;
      console.log(
        `40 devices x 1m x 3 days: measured ${measured} B, plan ${Math.round(pipeline)} B`,
        byKind,
        estimate.peak.bytes,
      );
      expect(estimate.peak.readingsKept).toBe((3 * 1440 - 1) * 40);
      expect(estimate.peak.partitions).toBe(3);
      expect(Math.abs(pipeline - measured) / measured).toBeLessThan(0.15);
    },
    2 * RUN_MS,
  );

  it(
    'estimates within 15 % the memory of 6 devices every 30 s in 2 shards, written in batches of one step',
    async () => {
      const flags = ['--devices', '6', '--interval', '30s', '--shards', '2', '--batch-size', '6'];
      const { total: measured, byKind } = await measureThreeDays(flags, 3 * 2880 * 6);
      const estimate = await plan([...flags, '--retention', '2d']);
      const pipeline = estimate.peak.total - estimate.figures.emptyServer;
      console.log(
        `6 devices x 30s x 2 shards x 3 days: measured ${measured} B, plan ${Math.round(pipeline)} B`,
      );
      expect(Math.abs(pipeline - measured) / measured).toBeLessThan(0.15);
    },
    2 * RUN_MS,
  );

  it(
    'estimates within 15 % the device tiers and window state of 10 devices every minute with --windows 1m,1h,1d --per-device',
    async () => {
      // Every tier keeps the three days written, so each holds what the plan's steady state does (the
      // trim's slack aside); the fleet windows' sources, kept --keep-hours plus a week, do not reach it.
      const tiers = ['--windows', '1m,1h,1d', '--per-device', '--keep', '1m=3d,1h=3d,1d=3d'];
      const flags = ['--devices', '10', '--interval', '1m'];
      const { byKind } = await measureThreeDays(flags, 3 * 1440 * 10, tiers);
      const estimate = await plan([...flags, ...tiers, '--retention', '2d', '--batch-size', '1000']);
      console.log('10 devices x 1m x 3 days, per device: measured', byKind, 'plan', estimate.peak.bytes);
      const off = (kind: string, measured: number) =>
        Math.abs(estimate.peak.bytes[kind]! - measured) / measured;
      expect(off('devices', byKind.devices!)).toBeLessThan(0.15);
      // The partitions' companion state: 4,320 settled 1m windows, 72 hours, 3 days, agg hashes.
      expect(off('aggregatorState', byKind.state!)).toBeLessThan(0.15);
    },
    2 * RUN_MS,
  );

  it("compares the need with a server's maxmemory", async () => {
    const small = await RedisServer.start({ args: ['--maxmemory', '5mb'] });
    try {
      const args = ['--devices', '100', '--interval', '1s', '--redis-url', small.url];
      const tooBig = await plan(args);
      expect(tooBig.servers).toHaveLength(1);
      expect(tooBig.servers![0]!.fits).toBe(false);
      expect(tooBig.servers![0]!.recommended).toBeGreaterThan(tooBig.peak.total);
      const text = await runNode(PLAN, args, { timeoutMs: 20_000 });
      expect(text.stdout).toMatch(/does not fit: needs .*; set maxmemory \d+(mb|gb) or more/);
      const fits = await runNode(PLAN, ['--devices', '1', '--interval', '1h', '--redis-url', small.url], {
        timeoutMs: 20_000,
      });
      expect(fits.stdout).toMatch(/fits: needs .* % of maxmemory \(\d+ % headroom\)/);
    } finally {
      await small.stop();
    }
  }, 30_000);

  it('lists every invalid flag and exits 2', async () => {
    const exit = await runNode(
      PLAN,
      ['--devices', '0', '--interval', 'soon', '--retention', '1s', '--nope'],
      {
        timeoutMs: 20_000,
      },
    );
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('unknown argument: --nope');
    expect(exit.stderr).toContain('--devices: a whole number');
    expect(exit.stderr).toContain('--interval: a duration');
  });

  it('keeps retention plus one day of readings at the peak, retention at the least', async () => {
    const two = await plan(['--devices', '10', '--interval', '1m', '--retention', '2d']);
    // The day before yesterday's newest reading, 23:59, expires two days later, at 23:59 today.
    expect(two.peak.readingsKept).toBe((3 * 1440 - 1) * 10);
    expect(two.least.readingsKept).toBe(2 * 1440 * 10);
    const short = await plan(['--devices', '10', '--interval', '1m', '--retention', '36h']);
    // The day before yesterday's newest reading, 23:59, expires 36 h later, at 11:59 today: just before,
    // 11:58 is today's newest reading; from then on today holds 11:59 too.
    expect(short.peak.readingsKept).toBe((2 * 1440 + 719) * 10);
    expect(short.least.readingsKept).toBe((1440 + 720) * 10);
  });
});
