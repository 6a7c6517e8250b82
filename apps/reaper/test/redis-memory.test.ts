import { connect, PipelineKeys, pipelineStatus, type RedisClient } from '@pipe/streams';
import { freePort, RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { renderStatus } from '../src/status-table.js';
import { startReaper } from './helpers.js';

const servers: RedisServer[] = [];
const clients: RedisClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const server of servers.splice(0)) await server.stop();
});

async function serverWith(args: string[]): Promise<{ server: RedisServer; redis: RedisClient }> {
  const server = await RedisServer.start({ args });
  servers.push(server);
  const redis = connect({ url: server.url });
  clients.push(redis);
  return { server, redis };
}

const infoField = async (redis: RedisClient, section: string, name: string) =>
  Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(await redis.info(section))![1]);

/** A metric's value for the server's node in /metrics, or undefined while it is not exported. */
async function metric(port: number, name: string, node?: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const labels = node ? `\\{node="${node}",service="reaper"\\}` : '\\{service="reaper"\\}';
  const match = new RegExp(`^${name}${labels} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('Redis memory while running', () => {
  it('exports and warns of evictions under --allow-eviction, and status shows memory, limit and policy', async () => {
    const { server, redis } = await serverWith(['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru']);
    const node = `127.0.0.1:${server.port}`;
    const prefix = randomPrefix('mem');
    const flags = ['--redis-url', server.url, '--prefix', prefix, '--allow-eviction'];
    const port = await freePort();
    const reaper = startReaper(['run', ...flags, '--metrics-port', String(port)]);
    await waitFor('the metrics server', () =>
      metric(port, 'pipe_redis_memory_max_bytes', node).catch(() => undefined),
    );
    expect(await metric(port, 'pipe_redis_memory_max_bytes', node)).toBe(2 * 1024 * 1024);
    expect(await metric(port, 'pipe_redis_memory_used_bytes', node)).toBeGreaterThan(0);
    expect(await metric(port, 'pipe_redis_evicted_keys_total', node)).toBe(0);
    expect(await metric(port, 'pipe_redis_eviction_allowed')).toBe(1);

    // Keys of the test's own, until Redis has to evict some.
    const value = 'x'.repeat(10_000);
    for (let i = 0; (await infoField(redis, 'stats', 'evicted_keys')) === 0; i++) {
      await redis.set(`filler:${i}`, value);
      expect(i).toBeLessThan(10_000);
    }
    const evicted = await waitFor('the evictions in /metrics', async () => {
      const n = await metric(port, 'pipe_redis_evicted_keys_total', node);
      return n !== undefined && n > 0 && n;
    });
    expect(evicted).toBeLessThanOrEqual(await infoField(redis, 'stats', 'evicted_keys'));
    const warning = await waitFor('the eviction warning', () =>
      reaper.events().find((e) => e.msg === 'Redis evicted keys: readings may have been lost'),
    );
    expect(warning).toMatchObject({ level: 40, node, policy: 'allkeys-lru' });
    expect(warning.evicted).toBeGreaterThan(0);

    // What `status` reports of the same server, built in this process.
    const report = await pipelineStatus(redis, new PipelineKeys(prefix));
    const [memory] = report.memory;
    expect(memory).toMatchObject({ node, maxBytes: 2 * 1024 * 1024, policy: 'allkeys-lru' });
    expect(memory!.usedBytes).toBeGreaterThan(0);
    expect(memory!.evictedKeys).toBeGreaterThan(0);
    expect(renderStatus(report)).toMatch(
      new RegExp(`${node}\\s+\\S+MiB\\s+2\\.00MiB\\s+\\d+%\\s+allkeys-lru\\s+[1-9]`),
    );
  });

  it('is not ready while Redis memory is above --memory-ready-ratio of maxmemory, ready again once it is raised', async () => {
    const { server, redis } = await serverWith([]);
    const port = await freePort();
    startReaper([
      'run',
      '--redis-url',
      server.url,
      '--prefix',
      randomPrefix('mem'),
      '--metrics-port',
      String(port),
      '--memory-ready-ratio',
      '0.8',
    ]);
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as { reason?: string; memory: unknown } };
    };
    await waitFor('ready', () =>
      readyz().then(
        (r) => r.status === 200,
        () => false,
      ),
    );
    // No maxmemory, no threshold.
    expect((await readyz()).body.memory).toMatchObject([{ maxBytes: 0, policy: 'noeviction' }]);

    const used = await infoField(redis, 'memory', 'used_memory');
    await redis.config('SET', 'maxmemory', String(Math.round(used / 0.85)));
    const full = await waitFor('not ready', () => readyz().then((r) => r.status === 503 && r));
    expect(full.body.reason).toMatch(/uses \d+% of maxmemory .* above --memory-ready-ratio 0\.8/);

    await redis.config('SET', 'maxmemory', String(used * 4));
    await waitFor('ready again', () => readyz().then((r) => r.status === 200));
  });
});
