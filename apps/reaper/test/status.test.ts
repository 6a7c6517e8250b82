import { sharedRedis } from '@pipe/fixtures';
import { DAY_MS, pipelineStatus } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { renderStatus } from '../src/status-table.js';
import { addReadings } from './helpers.js';

const { redis, fresh } = sharedRedis('reaper');

type Row = Record<string, unknown>;
const pairs = (row: unknown[]): Row => {
  const out: Row = {};
  for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1];
  return out;
};

describe('status', () => {
  it('reports the figures XINFO, XPENDING, PTTL and XLEN give directly', async () => {
    const { keys } = fresh();
    const today = keys.partitionKeyFor(Date.now());
    const yesterday = keys.partitionKeyFor(Date.now() - DAY_MS);
    const { ids } = await addReadings(redis, today, 30);
    await addReadings(redis, yesterday, 7);
    await redis.pexpire(today, 3_600_000);
    // today: "a" read 20 with two consumers, acked 5; "b" read nothing; an undelivered entry deleted (lag unknown).
    await redis.xgroup('CREATE', today, 'a', '0');
    await redis.xgroup('CREATE', today, 'b', '0');
    await redis.xreadgroup('GROUP', 'a', 'c1', 'COUNT', 12, 'STREAMS', today, '>');
    await redis.xreadgroup('GROUP', 'a', 'c2', 'COUNT', 8, 'STREAMS', today, '>');
    await redis.xack(today, 'a', ...ids.slice(0, 5));
    await redis.xdel(today, ids[25]!);
    await redis.xgroup('CREATE', yesterday, 'a', '$');
    await redis.xadd(keys.deadLetters, '*', 'x', '1');
    await redis.xadd(keys.late, '*', 'x', '1');
    await redis.xadd(keys.late, '*', 'x', '2');

    // As `status --json` prints it: the JSON round trip drops nothing the assertions read.
    const report = JSON.parse(JSON.stringify(await pipelineStatus(redis, keys)));

    expect(report.partitions.map((p: Row) => p.key)).toEqual([yesterday, today]);
    for (const p of report.partitions) {
      const first = (await redis.xrange(p.key, '-', '+', 'COUNT', 1)) as [string, string[]][];
      const last = (await redis.xrevrange(p.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
      expect(p.length).toBe(await redis.xlen(p.key));
      expect(p.firstId).toBe(first[0]![0]);
      expect(p.lastId).toBe(last[0]![0]);
      expect(p.expiresAt).toBe(
        ((await redis.call('PEXPIRETIME', p.key)) as number) > 0
          ? await redis.call('PEXPIRETIME', p.key)
          : null,
      );
      const pttl = await redis.pttl(p.key);
      if (pttl < 0) expect(p.ttlMs).toBe(pttl);
      else expect(p.ttlMs).toBeGreaterThanOrEqual(pttl);
      const groups = ((await redis.call('XINFO', 'GROUPS', p.key)) as unknown[][]).map(pairs);
      expect(p.groups.map((g: Row) => g.name)).toEqual(groups.map((g) => g.name));
      for (const [i, g] of p.groups.entries()) {
        const direct = groups[i]!;
        expect(g.pending).toBe(direct.pending);
        expect(g.lag).toBe(direct.lag ?? null);
        expect(g.entriesRead).toBe(direct['entries-read'] ?? null);
        expect(g.lastDeliveredId).toBe(direct['last-delivered-id']);
        const consumers = ((await redis.call('XINFO', 'CONSUMERS', p.key, g.name)) as unknown[][]).map(pairs);
        expect(g.consumers.map((c: Row) => [c.name, c.pending])).toEqual(
          consumers.map((c) => [c.name, c.pending]),
        );
        const [, smallest] = (await redis.xpending(p.key, g.name)) as [number, string | null];
        expect(g.oldestPendingId).toBe(smallest);
        if (smallest) {
          const [[, , idle]] = (await redis.xpending(p.key, g.name, '-', '+', 1)) as [
            [string, string, number, number],
          ];
          expect(g.oldestPendingIdleMs).toBeLessThanOrEqual(idle);
        } else {
          expect(g.oldestPendingIdleMs).toBeNull();
        }
      }
    }
    const todayReport = report.partitions[1];
    expect(todayReport.groups.map((g: Row) => [g.name, g.pending, g.lag])).toEqual([
      ['a', 15, null],
      ['b', 0, null],
    ]);
    expect(report.partitions[0].groups[0]).toMatchObject({ name: 'a', pending: 0, lag: 0, consumers: [] });
    expect(report).toMatchObject({ deadLetters: 1, late: 2, alerts: 0, averages: 0, reaperLease: null });

    const text = renderStatus(report);
    for (const key of [today, yesterday]) expect(text).toContain(key);
    expect(text).toMatch(/dead letters\s+1/);
  });
});
