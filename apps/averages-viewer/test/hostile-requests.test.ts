import { request } from 'node:http';
import { sharedRedis } from '@pipe/fixtures';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix, sleep } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import type { DashboardStatus } from '../src/server.js';
import { writeHours } from './averages-fixture.js';
import { HostAllowList } from '../src/host-allow-list.js';
import { RunningDashboard } from './running-dashboard.js';
import { SseReader } from './sse-reader.js';

// Requests anyone who can reach the dashboard may send (issue #14, items 6, 7 and 12's `limit`), each
// against a DashboardServer built in this process and a real redis-server (where --metrics-host binds,
// a matter of the process, is in pipe-viewer-cli.test.ts).

const { url: redisUrl, redis } = sharedRedis('viewer');

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request exactly as written (method, request target, Host; `host: null` sends none), which fetch
 * would normalise; fails when the answer does not end within `timeoutMs`.
 */
function raw(
  base: string,
  target: string,
  {
    method = 'GET',
    host,
    timeoutMs = 3000,
  }: { method?: string; host?: string | null; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({
      hostname,
      port,
      method,
      path: target,
      agent: false,
      setHost: host !== null,
      headers: host ? { host } : {},
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${target} did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.end();
  });
}

/** Redis still counts as up, for the API and for an event-stream client, and no outage was logged. */
async function expectNoOutage(dashboard: RunningDashboard, stream: SseReader): Promise<void> {
  // Long enough for a health event to reach the client had one been sent.
  await sleep(300);
  expect(stream.events.filter((e) => e.event === 'health').map((e) => JSON.parse(e.data).up)).toEqual([true]);
  const status = await dashboard.json<DashboardStatus>('/api/status');
  expect(status.body.redis.up).toBe(true);
  expect(dashboard.logs.filter((l) => /unavailable|reconnect/.test(l.msg))).toEqual([]);
}

async function openStream(dashboard: RunningDashboard): Promise<SseReader> {
  const stream = await SseReader.open(`${dashboard.base}/api/stream`);
  await stream.waitFor((e) => e.event === 'health');
  return stream;
}

describe('item 6: hostile query parameters of /api/averages', () => {
  it('answers a bound before 1970 with a 400 naming it, not an outage for every dashboard', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    await writeHours(redis, keys, 3);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const stream = await openStream(dashboard);
    try {
      for (const query of ['from=1969-12-31', 'to=1969-12-31', 'from=0000-01-01', 'to=0000-01-01T00:00Z']) {
        const { status, body } = await dashboard.json<{ error: string }>(`/api/averages?${query}`);
        expect(status, query).toBe(400);
        expect(body.error, query).toMatch(new RegExp(`^${query.split('=')[0]}: .*1970`));
      }
      await expectNoOutage(dashboard, stream);
      expect((await dashboard.json('/api/averages')).status).toBe(200);
    } finally {
      stream.close();
      await dashboard.stop();
    }
  });

  it('answers a Redis reply error with a 500 for that request only: no health flip, no reconnect', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    // Redis answers every read of the averages with WRONGTYPE: an error reply, from a Redis that is up.
    await redis.set(keys.averages, 'not a stream');
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const stream = await openStream(dashboard);
    try {
      const { status, body } = await dashboard.json<{ error: string }>('/api/averages');
      expect(status).toBe(500);
      expect(body.error).toMatch(/WRONGTYPE/);
      await expectNoOutage(dashboard, stream);
    } finally {
      stream.close();
      await dashboard.stop();
      await redis.del(keys.averages);
    }
  });

  it('takes only plain decimal digits within bounds as limit', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    await writeHours(redis, keys, 20);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      for (const limit of ['1e3', '0x10', '%201%20', '+5', '5.0', '0b11', '0', '2001', '-1', '1_0']) {
        const { status, body } = await dashboard.json<{ error: string }>(`/api/averages?limit=${limit}`);
        expect(status, limit).toBe(400);
        expect(body.error, limit).toMatch(/^limit: /);
      }
      const { status, body } = await dashboard.json<{ count: number }>('/api/averages?limit=16');
      expect(status).toBe(200);
      expect(body.count).toBe(16);
    } finally {
      await dashboard.stop();
    }
  });
});

describe('hostile device ids and searches', () => {
  it('refuses a device id that is not one (encoded slashes, NUL, braces, glob, too long) with 400, Redis staying up for every page', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const stream = await openStream(dashboard);
    try {
      for (const device of [
        '..%2F..%2Fetc',
        '%00',
        'a%7Bb%7D',
        'a*',
        '%E0%A4%A',
        'x'.repeat(65),
        'sensor%20one',
      ]) {
        for (const what of ['averages', 'stream']) {
          const { status, body } = await raw(dashboard.base, `/api/devices/${device}/${what}`);
          expect(status, device).toBe(400);
          expect(JSON.parse(body).error, device).toMatch(/^device: /);
        }
      }
      for (const q of ['*', 'a?b', '[a-z]', '%7B', 'x'.repeat(65)]) {
        const { status } = await raw(dashboard.base, `/api/devices?q=${q}`);
        expect(status, q).toBe(400);
      }
      expect((await raw(dashboard.base, '/api/devices/a/b/averages')).status).toBe(404);
      await expectNoOutage(dashboard, stream);
      expect(await redis.exists(keys.devicesIndex)).toBe(0);
    } finally {
      stream.close();
      await dashboard.stop();
    }
  });
});

describe('item 7: hostile requests to the dashboard server', () => {
  it('answers HEAD on every route with headers only, and registers no event-stream client', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      const head = await raw(dashboard.base, '/api/stream', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(head.body).toBe('');
      const deviceStream = await raw(dashboard.base, '/api/devices/sensor-1/stream?resolution=1m', {
        method: 'HEAD',
      });
      expect(deviceStream.status).toBe(200);
      expect(deviceStream.body).toBe('');
      const alertStream = await raw(dashboard.base, '/api/alerts/stream', { method: 'HEAD' });
      expect(alertStream.status).toBe(200);
      expect(alertStream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(alertStream.body).toBe('');
      for (const target of [
        '/',
        '/dashboard.js',
        '/alerts.js',
        '/api/averages',
        '/api/status',
        '/api/devices',
        '/api/alerts',
      ]) {
        const answer = await raw(dashboard.base, target, { method: 'HEAD' });
        expect(answer.status, target).toBe(200);
        expect(answer.body, target).toBe('');
      }
      const { body } = await dashboard.json<DashboardStatus>('/api/status');
      expect(body.viewer.streamClients).toBe(0);
    } finally {
      await dashboard.stop();
    }
  });

  it('answers a malformed request target with a 400, logging no error and no stack trace', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      for (let i = 0; i < 20; i++) {
        for (const target of ['//a:b', '//a:b/api/status', 'http://evil.example/api/status']) {
          const answer = await raw(dashboard.base, target);
          expect(answer.status, target).toBe(400);
          expect(answer.body, target).not.toMatch(/pipeline|stack|at /);
        }
      }
      // Refusals are logged at debug, without an error: nothing at warn or above, no stack trace.
      await sleep(100);
      expect(
        dashboard.logs.filter((l) => l.level === 'warn' || l.level === 'error' || 'err' in l.fields),
      ).toEqual([]);
      expect(dashboard.logs.filter((l) => l.msg === 'refused request')).toHaveLength(60);
    } finally {
      await dashboard.stop();
    }
  });

  it('sends nosniff, a Content-Security-Policy and no-referrer on every response', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const port = dashboard.port;
    try {
      const answers: [string, Promise<RawAnswer>][] = [
        ['page', raw(dashboard.base, '/')],
        ['script', raw(dashboard.base, '/dashboard.js')],
        ['chart library', raw(dashboard.base, '/vendor/uPlot.iife.min.js')],
        ['json', raw(dashboard.base, '/api/averages')],
        ['status', raw(dashboard.base, '/api/status')],
        ['event stream', raw(dashboard.base, '/api/stream', { method: 'HEAD' })],
        ['404', raw(dashboard.base, '/nope')],
        ['405', raw(dashboard.base, '/', { method: 'POST' })],
        ['400', raw(dashboard.base, '/api/averages?limit=0x10')],
        ['400 target', raw(dashboard.base, '//a:b')],
        ['devices', raw(dashboard.base, '/api/devices?q=x')],
        ['404 device', raw(dashboard.base, '/api/devices/nobody/averages')],
        ['400 device', raw(dashboard.base, '/api/devices/..%2F..%2Fetc/averages')],
        ['device stream', raw(dashboard.base, '/api/devices/nobody/stream', { method: 'HEAD' })],
        ['421', raw(dashboard.base, '/', { host: `evil.example:${port}` })],
      ];
      for (const [what, answer] of answers) {
        const { headers } = await answer;
        expect(headers['x-content-type-options'], what).toBe('nosniff');
        expect(headers['referrer-policy'], what).toBe('no-referrer');
        const csp = String(headers['content-security-policy']);
        expect(csp, what).toContain("default-src 'none'");
        expect(csp, what).toContain("frame-ancestors 'none'");
        expect(csp, what).toContain("script-src 'self'");
        expect(csp, what).not.toMatch(/unsafe|\*|data:/);
      }
    } finally {
      await dashboard.stop();
    }
  });

  it('answers 421 and nothing else to a Host outside the allow-list (DNS rebinding)', async () => {
    const keys = new PipelineKeys(randomPrefix('hostile'));
    await writeHours(redis, keys, 3);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const port = dashboard.port;
    try {
      for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        expect((await raw(dashboard.base, '/api/averages', { host })).status, host).toBe(200);
      }
      const foreign = [
        `evil.example:${port}`,
        'evil.example',
        `localhost:${Number(port) + 1}`,
        'localhost',
        null,
      ];
      for (const host of foreign) {
        for (const target of ['/', '/api/averages', '/api/status', '/api/stream']) {
          const answer = await raw(dashboard.base, target, { host });
          // Without a Host header an HTTP/1.1 request is malformed: Node answers 400 before the server.
          expect(answer.status, `${host} ${target}`).toBe(host === null ? 400 : 421);
          expect(answer.body, `${host} ${target}`).not.toMatch(/averages|pipeline|<html|event:/);
        }
      }
      const { body } = await dashboard.json<DashboardStatus>('/api/status');
      expect(body.viewer.streamClients).toBe(0);
    } finally {
      await dashboard.stop();
    }

    // A list of allowed hosts replaces the default one; an entry without a port allows any port.
    const named = await RunningDashboard.start(redisUrl, keys.prefix, {
      allowedHosts: HostAllowList.parse(['dash.example.org', '127.0.0.1']),
    });
    const namedPort = named.port;
    try {
      expect((await raw(named.base, '/api/averages', { host: `dash.example.org:${namedPort}` })).status).toBe(
        200,
      );
      expect((await raw(named.base, '/api/averages', { host: `localhost:${namedPort}` })).status).toBe(421);
    } finally {
      await named.stop();
    }
  });
});
