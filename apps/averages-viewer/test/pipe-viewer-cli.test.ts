import { request } from 'node:http';
import { sharedRedis, ViewerProcess } from '@pipe/fixtures';
import { HOUR_MS, PipelineKeys } from '@pipe/streams';
import { freePort, randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import {
  averageFor,
  averagesInRedis,
  FIRST_HOUR,
  writeAverage,
  writeHours,
  writeMalformed,
} from './averages-fixture.js';
import { DashboardProcess } from './dashboard-process.js';
import { asApiWindow, deviceReadings, publishDeviceWindows } from './device-fixture.js';
import { SseReader } from './sse-reader.js';

// The `pipe-viewer` command as a process: what goes to stdout and stderr, exit codes, SIGTERM, flags
// and env. What tail and serve do is tested in-process (averages-tail.test.ts, dashboard-server.test.ts);
// Redis unreachable at start is in redis-unavailable.test.ts.

const { url: redisUrl, redis } = sharedRedis('viewer');

function tailArgs(keys: PipelineKeys, ...more: string[]): string[] {
  return ['tail', '--redis-url', redisUrl, '--prefix', keys.prefix, ...more];
}

/** The status of GET `path` sent with this Host header (fetch would not let a test choose it). */
function statusWithHost(base: string, path: string, host: string): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, agent: false, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pipe-viewer tail (process)', () => {
  it('writes only averages to stdout, one JSON line each, notices of malformed entries to stderr, and exits 0', async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    await writeHours(redis, keys, 2);
    const badIds = [
      await writeMalformed(redis, keys, FIRST_HOUR + 2 * HOUR_MS),
      await writeMalformed(redis, keys, FIRST_HOUR + 3 * HOUR_MS),
    ];
    await writeHours(redis, keys, 2, FIRST_HOUR + 4 * HOUR_MS);
    const { code, stdout, stderr } = await ViewerProcess.run(tailArgs(keys, '--json'));
    expect(code).toBe(0);
    const valid = await averagesInRedis(redis, keys);
    expect(valid).toHaveLength(4);
    expect(stdout.map((line) => JSON.parse(line))).toEqual(valid);
    for (const id of badIds)
      expect(stderr.some((l) => l.startsWith(`skipped malformed average ${id}:`))).toBe(true);
    expect(stderr).toContain(`skipped ${badIds.length} malformed average entries`);
  });

  it("wires --device and --resolution: prints that device's windows of that size", async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    const tally = await publishDeviceWindows(redis, keys, deviceReadings(['sensor-1', 'lab:fridge.3'], 12));
    const { code, stdout } = await ViewerProcess.run(
      tailArgs(keys, '--json', '--device', 'lab:fridge.3', '--resolution', '1m', '--last', '5'),
    );
    expect(code).toBe(0);
    expect(stdout.map((line) => JSON.parse(line))).toEqual(
      tally
        .expectedOfDevice('lab:fridge.3', '1m')
        .slice(-5)
        .map((w) => ({ device: 'lab:fridge.3', resolution: '1m', ...asApiWindow(w) })),
    );
  });

  it('refuses --last with --from, listing every problem before connecting', async () => {
    const { code, stderr } = await ViewerProcess.run([
      'tail',
      '--redis-url',
      'http://nowhere',
      '--last',
      '2',
      '--from',
      '2027-01-01',
      '--name',
      'has space',
    ]);
    expect(code).toBe(1);
    const text = stderr.join('\n');
    expect(text).toContain('redisUrl');
    expect(text).toContain('name');
  });

  it('stops following on SIGTERM with exit 0, after printing what it was shown', async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    const viewer = ViewerProcess.start(tailArgs(keys, '--follow', '--json', '--name', 'live'));
    try {
      await viewer.waitForLine('stderr', (l) => l.includes(`no averages in ${keys.averages} yet; waiting`));
      const average = averageFor(FIRST_HOUR);
      await writeAverage(redis, keys, average);
      const shown = await viewer.waitForLine('stdout', (l) => JSON.parse(l).hourStart === average.hourStart);
      expect(JSON.parse(shown.line)).toEqual(average);
    } finally {
      expect(await viewer.stop()).toBe(0);
    }
  });
});

describe('pipe-viewer serve (process)', () => {
  it('ends open event streams on SIGTERM and exits 0', async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    const dashboard = await DashboardProcess.start(redisUrl, keys.prefix);
    const stream = await SseReader.open(`${dashboard.base}/api/stream`);
    try {
      await stream.waitFor((e) => e.event === 'health');
      expect(await dashboard.stop()).toBe(0);
      expect(stream.ended).toBe(true);
    } finally {
      stream.close();
      await dashboard.stop();
    }
  });

  it('answers only the Host names of --allowed-hosts, any port for an entry without one', async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    const named = await DashboardProcess.start(redisUrl, keys.prefix, [
      '--allowed-hosts',
      'dash.example.org,127.0.0.1',
    ]);
    const port = new URL(named.base).port;
    try {
      expect(await statusWithHost(named.base, '/api/averages', `dash.example.org:${port}`)).toBe(200);
      expect(await statusWithHost(named.base, '/api/averages', `localhost:${port}`)).toBe(421);
    } finally {
      await named.stop();
    }
  });

  it('binds the metrics server to 127.0.0.1 unless --metrics-host (env METRICS_HOST) says otherwise', async () => {
    const keys = new PipelineKeys(randomPrefix('cli'));
    const reach = (host: string, port: number) =>
      fetch(`http://${host}:${port}/healthz`).then(
        (res) => res.status,
        (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
      );
    const metricsPort = await freePort();
    const local = await DashboardProcess.start(redisUrl, keys.prefix, [
      '--metrics-port',
      String(metricsPort),
    ]);
    try {
      await expect.poll(() => reach('127.0.0.1', metricsPort)).toBe(200);
      // 127.0.0.2 is loopback too, but only a wildcard bind (0.0.0.0) answers there.
      expect(await reach('127.0.0.2', metricsPort)).toBe('ECONNREFUSED');
    } finally {
      await local.stop();
    }
    const otherPort = await freePort();
    const moved = await DashboardProcess.start(redisUrl, keys.prefix, ['--metrics-port', String(otherPort)], {
      METRICS_HOST: '127.0.0.2',
    });
    try {
      await expect.poll(() => reach('127.0.0.2', otherPort)).toBe(200);
      expect(await reach('127.0.0.1', otherPort)).toBe('ECONNREFUSED');
    } finally {
      await moved.stop();
    }
  });
});
