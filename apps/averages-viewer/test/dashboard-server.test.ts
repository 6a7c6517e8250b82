import { sharedRedis } from '@pipe/fixtures';
import { encodeReading, HOUR_MS, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it, vi } from 'vitest';
import {
  averageFor,
  averagesInRedis,
  FIRST_HOUR,
  writeAverage,
  writeHours,
  writeMalformed,
} from './averages-fixture.js';
import { type AveragesAnswer, DashboardServer, type DashboardStatus } from '../src/server.js';
import { ownRedis } from './own-redis.js';
import { RunningDashboard } from './running-dashboard.js';
import { SseReader } from './sse-reader.js';

type Answer = AveragesAnswer & { error?: string };
type Status = DashboardStatus;

const { url: redisUrl, redis } = sharedRedis('viewer');

/** The server's memory row as INFO gives it (used memory moves: any number). */
async function memoryOf(client: typeof redis) {
  const info = `${await client.info('memory')}${await client.info('stats')}`;
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)![1]!;
  return {
    node: new URL(redisUrl).host,
    usedBytes: expect.any(Number),
    maxBytes: Number(field('maxmemory')),
    policy: field('maxmemory_policy'),
    evictedKeys: Number(field('evicted_keys')),
  };
}

const withoutId = ({ id, ...average }: { id: string; hourStart: number }) => {
  expect(id).toBe(`${average.hourStart}-0`);
  return average;
};

describe('DashboardServer: JSON API', () => {
  it('answers /api/averages by time (ISO or ms), oldest first, newest N with limit', async () => {
    const keys = new PipelineKeys(randomPrefix('serve'));
    await writeHours(redis, keys, 48);
    const all = await averagesInRedis(redis, keys);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      const from = FIRST_HOUR + 10 * HOUR_MS;
      const to = FIRST_HOUR + 20 * HOUR_MS;
      const ranged = await dashboard.json<Answer>(
        `/api/averages?from=${new Date(from).toISOString()}&to=${to}`,
      );
      expect(ranged.status).toBe(200);
      expect(ranged.body.averages.map(withoutId)).toEqual(
        all.filter((a) => a.hourStart >= from && a.hourStart <= to),
      );
      expect(ranged.body.count).toBe(11);

      // A bound inside an hour: the hours starting at or after it.
      const mid = await dashboard.json<Answer>(`/api/averages?from=${from + HOUR_MS / 2}`);
      expect(mid.body.averages[0]?.hourStart).toBe(from + HOUR_MS);

      const everything = await dashboard.json<Answer>('/api/averages');
      expect(everything.body.averages.map(withoutId)).toEqual(all);
      const newest = await dashboard.json<Answer>('/api/averages?limit=5');
      expect(newest.body.averages.map(withoutId)).toEqual(all.slice(-5));

      const bad = await dashboard.json<Answer>('/api/averages?from=last-tuesday');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toContain('from');
    } finally {
      await dashboard.stop();
    }
  });

  it('skips malformed averages and counts each once in /api/status', async () => {
    const keys = new PipelineKeys(randomPrefix('serve'));
    await writeHours(redis, keys, 3);
    await writeMalformed(redis, keys, FIRST_HOUR + 3 * HOUR_MS);
    await writeMalformed(redis, keys, FIRST_HOUR + 4 * HOUR_MS);
    await writeHours(redis, keys, 1, FIRST_HOUR + 5 * HOUR_MS);
    const valid = await averagesInRedis(redis, keys);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      for (let i = 0; i < 2; i++) {
        const { body } = await dashboard.json<Answer>('/api/averages');
        expect(body.averages.map(withoutId)).toEqual(valid);
        expect(body.skipped).toBe(2);
      }
      const status = await dashboard.json<Status>('/api/status');
      expect(status.body.viewer.malformedAverages).toBe(2);
      expect(status.body.pipeline?.averages).toBe(valid.length + 2);
    } finally {
      await dashboard.stop();
    }
  });

  it('reports in /api/status the same figures as XLEN and XINFO GROUPS, lag null where Redis cannot tell', async () => {
    const keys = new PipelineKeys(randomPrefix('serve'));
    const day1 = keys.partitionKeyFor(FIRST_HOUR);
    const day2 = keys.partitionKeyFor(FIRST_HOUR + 24 * HOUR_MS);
    const ids: Record<string, string[]> = { [day1]: [], [day2]: [] };
    for (const [key, count] of [
      [day1, 12],
      [day2, 7],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const ts = keys.parsePartitionKey(key) + i * 1000;
        ids[key]!.push(
          (await redis.call(
            'XADD',
            key,
            '*',
            ...encodeReading({ device: 'd1', ts, temp_f: 60 + i }),
          )) as string,
        );
      }
      await redis.call('XGROUP', 'CREATE', key, 'aggregators', '0');
    }
    await redis.call('XGROUP', 'CREATE', day1, 'audit', '$');
    await redis.call('XREADGROUP', 'GROUP', 'aggregators', 'a1', 'COUNT', 5, 'STREAMS', day1, '>');
    await redis.call('XREADGROUP', 'GROUP', 'aggregators', 'a2', 'COUNT', 2, 'STREAMS', day1, '>');
    await redis.call('XREADGROUP', 'GROUP', 'aggregators', 'a1', 'COUNT', 3, 'STREAMS', day2, '>');
    // A deletion after the last delivered entry leaves Redis unable to count the lag.
    await redis.call('XDEL', day2, ids[day2]![5]!);
    for (let i = 0; i < 2; i++) await redis.call('XADD', keys.deadLetters, '*', 'reason', 'test');
    for (let i = 0; i < 3; i++) await redis.call('XADD', keys.late, '*', 'reason', 'test');
    await redis.call('XADD', keys.alerts, '*', 'temp_f', '120');
    await writeHours(redis, keys, 4);

    const direct = async (key: string) => {
      const groups = (await redis.call('XINFO', 'GROUPS', key)) as unknown[][];
      return {
        key,
        length: (await redis.call('XLEN', key)) as number,
        groups: groups.map((row) => {
          const m: Record<string, unknown> = {};
          for (let i = 0; i < row.length; i += 2) m[String(row[i])] = row[i + 1];
          return {
            name: m.name,
            consumers: m.consumers,
            pending: m.pending,
            lag: m.lag ?? null,
            lastDeliveredId: m['last-delivered-id'],
          };
        }),
      };
    };
    const expected = {
      partitions: [await direct(day1), await direct(day2)],
      averages: await redis.call('XLEN', keys.averages),
      deadLetters: await redis.call('XLEN', keys.deadLetters),
      late: await redis.call('XLEN', keys.late),
      alerts: await redis.call('XLEN', keys.alerts),
    };
    expect(expected.partitions[1]!.groups[0]!.lag).toBeNull();
    expect(expected.partitions[0]!.groups.find((g) => g.name === 'aggregators')!.pending).toBe(7);

    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      const { body } = await dashboard.json<Status>('/api/status');
      expect(body.redis.up).toBe(true);
      expect(body.pipeline).toEqual({ ...expected, memory: [await memoryOf(redis)] });
    } finally {
      await dashboard.stop();
    }
  });
});

describe('DashboardServer: server-sent events', () => {
  it('catches a client up from ?after=, then pushes each new average as it is written', async () => {
    const keys = new PipelineKeys(randomPrefix('serve'));
    const written = await writeHours(redis, keys, 5);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const stream = await SseReader.open(`${dashboard.base}/api/stream?after=${written[1]!.hourStart}-0`);
    const resumed = await SseReader.open(`${dashboard.base}/api/stream`, {
      'last-event-id': `${written[3]!.hourStart}-0`,
    });
    try {
      expect(stream.status).toBe(200);
      await stream.waitFor((e) => e.id === `${written[4]!.hourStart}-0`);
      expect(stream.averages().map(withoutId)).toEqual(written.slice(2));

      const next = averageFor(FIRST_HOUR + 5 * HOUR_MS);
      const writtenAt = Date.now();
      await writeAverage(redis, keys, next);
      const pushed = await stream.waitFor((e) => e.id === `${next.hourStart}-0`);
      expect(pushed.at - writtenAt).toBeLessThan(1000);
      expect(withoutId(JSON.parse(pushed.data))).toEqual(next);
      expect(stream.averages()).toHaveLength(4);

      // EventSource's reconnect sends Last-Event-ID: only what came after it.
      await resumed.waitFor((e) => e.id === `${next.hourStart}-0`);
      expect(resumed.averages().map(withoutId)).toEqual([written[4], next]);
      // Stopped with event streams open: the server ends them (SIGTERM's exit 0: pipe-viewer-cli.test.ts).
      await dashboard.stop();
      await vi.waitFor(() => expect(stream.ended && resumed.ended).toBe(true));
    } finally {
      stream.close();
      resumed.close();
      await dashboard.stop();
    }
  });
});

describe('DashboardServer: Redis outage', () => {
  it('reports Redis down in /api/status while it is, then recovers by itself and pushes new averages again', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = new PipelineKeys(randomPrefix('serve'));
    await writeAverage(own, keys, averageFor(FIRST_HOUR));
    const dashboard = await RunningDashboard.start(server.url, keys.prefix);
    const stream = await SseReader.open(`${dashboard.base}/api/stream?after=0-0`);
    try {
      await stream.waitFor((e) => e.event === 'average');
      const up = await dashboard.json<Status>('/api/status');
      expect(up.body.redis.up).toBe(true);
      expect(up.body.pipeline?.averages).toBe(1);

      const restarted = server.restart({ downMs: 3000 });
      const down = await dashboard.until<Status>('/api/status', (body) => body.redis.up === false, 2500);
      expect(down.pipeline).toBeNull();
      expect(down.redis).toMatchObject({ up: false, error: expect.any(String) });
      expect((await dashboard.json<Answer>('/api/averages')).status).toBe(503);
      await stream.waitFor((e) => e.event === 'health' && JSON.parse(e.data).up === false);
      await restarted;

      const back = await dashboard.until<Status>('/api/status', (body) => body.redis.up === true, 10_000);
      // The restarted server had no persistence: the pipeline starts over, and the viewer sees that.
      expect(back.pipeline?.averages).toBe(0);
      const next = averageFor(FIRST_HOUR + HOUR_MS);
      await writeAverage(own, keys, next);
      const pushed = await stream.waitFor((e) => e.id === `${next.hourStart}-0`, { timeoutMs: 10_000 });
      expect(withoutId(JSON.parse(pushed.data))).toEqual(next);
      expect((await dashboard.json<Answer>('/api/averages')).body.averages.map(withoutId)).toEqual([next]);
    } finally {
      stream.close();
      await dashboard.stop();
      await stopOwnRedis();
    }
  });

  it('counts Redis as down when a read gets no answer in time (a frozen server), and as up once it answers', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = new PipelineKeys(randomPrefix('serve'));
    await writeAverage(own, keys, averageFor(FIRST_HOUR));
    const dashboard = await RunningDashboard.start(server.url, keys.prefix, { statusTimeoutMs: 300 });
    try {
      expect((await dashboard.json<Answer>('/api/averages')).body.count).toBe(1);
      // SIGSTOP: the connection stays open and nothing answers, so only the deadline can tell.
      process.kill(server.pid!, 'SIGSTOP');
      try {
        const frozen = await dashboard.json<Answer>('/api/averages');
        expect(frozen.status).toBe(503);
        expect(frozen.body.error).toBe('redis unavailable: no answer within 300 ms');
        const status = await dashboard.json<Status>('/api/status');
        expect(status.body.redis).toMatchObject({ up: false });
        expect(status.body.pipeline).toBeNull();
      } finally {
        process.kill(server.pid!, 'SIGCONT');
      }
      const back = await dashboard.until<Status>('/api/status', (body) => body.redis.up, 5000);
      expect(back.pipeline?.averages).toBe(1);
      expect(dashboard.logs.filter((l) => l.msg === 'redis unavailable; reconnecting')).toHaveLength(1);
      expect(dashboard.logs.filter((l) => l.msg === 'redis reachable again')).toHaveLength(1);
    } finally {
      await dashboard.stop();
      await stopOwnRedis();
    }
  });
});

describe('DashboardServer: life cycle', () => {
  it('starts once, says where it listens, and is running until stopped', async () => {
    const dashboard = await RunningDashboard.start(redisUrl, randomPrefix('serve'));
    const { server } = dashboard;
    try {
      expect(server.isRunning).toBe(true);
      expect(server.url).toBe(dashboard.base);
      expect(dashboard.base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await expect(server.start()).rejects.toThrow(/already started/);
    } finally {
      await dashboard.stop();
    }
    expect(server.isRunning).toBe(false);
  });

  it('has no address before it starts', () => {
    const server = new DashboardServer({
      redis,
      keys: new PipelineKeys('unused'),
      port: 0,
      host: '127.0.0.1',
    });
    expect(() => server.url).toThrow(/not listening/);
  });

  it('sends a heartbeat comment to a quiet event stream, so proxies do not close it', async () => {
    const dashboard = await RunningDashboard.start(redisUrl, randomPrefix('serve'), { heartbeatMs: 50 });
    const stream = await SseReader.open(`${dashboard.base}/api/stream`);
    try {
      await vi.waitFor(() =>
        expect(stream.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(2),
      );
      expect(stream.averages()).toEqual([]);
    } finally {
      stream.close();
      await dashboard.stop();
    }
  });
});
