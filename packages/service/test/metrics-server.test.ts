import { connect } from '@pipe/streams';
import { freePort, RedisServer } from '@pipe/testkit';
import { Counter } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRegistry, startMetricsServer } from '../src/metrics-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(() => server.stop());

it('is ready only while Redis answers and the service runs, and serves Prometheus text', async () => {
  const redis = connect({ url: server.url, redis: { maxRetriesPerRequest: 1 } });
  redis.on('error', () => {}); // the outage below is deliberate
  const registry = createRegistry('test-service');
  new Counter({ name: 'pipe_test_total', help: 'a test counter', registers: [registry] }).inc(3);
  let running = true;
  const port = await freePort();
  const http = await startMetricsServer(port, registry, { redis, isRunning: () => running }, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  try {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('pipe_test_total{service="test-service"} 3');
    // Every service's metrics server exports the memory of the server its client talks to.
    const node = `node="127.0.0.1:${server.port}",service="test-service"`;
    expect(metrics).toMatch(new RegExp(`^pipe_redis_memory_used_bytes\\{${node}\\} [1-9]\\d*$`, 'm'));
    expect(metrics).toContain(`pipe_redis_memory_max_bytes{${node}} 0`);
    expect(metrics).toContain(`pipe_redis_evicted_keys_total{${node}} 0`);
    expect(metrics).toContain('pipe_redis_eviction_allowed{service="test-service"} 0');

    running = false;
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    running = true;

    await server.kill();
    const down = await fetch(`${url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ready: false, redis: false });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await server.restart();
    await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  } finally {
    http.close();
    redis.disconnect();
  }
});
