import { sharedRedis } from '@pipe/fixtures';
import { aclSetUserArgs, pipelineAcl } from '@pipe/service';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import type { DeviceAveragesAnswer, DevicesAnswer, DeviceWindowEvent } from '../src/devices-api.js';
import type { AveragesAnswer, WindowAverageJson } from '../src/server.js';
import {
  asApiWindow,
  deviceReadings,
  FIRST_READING,
  publishDeviceWindows,
  writeDeviceWindow,
} from './device-fixture.js';
import { RunningDashboard } from './running-dashboard.js';
import { SseReader } from './sse-reader.js';

const { url: redisUrl, redis } = sharedRedis('viewer');

const DEVICES = ['sensor-1', 'Sensor-2', 'lab:fridge.3'];
type Failure = { error: string };

/** A fleet of three devices over 40 minutes across UTC midnight, published, and a dashboard on it. */
async function publishedFleet(settings: Parameters<typeof RunningDashboard.start>[2] = {}) {
  const keys = new PipelineKeys(randomPrefix('devices'));
  const tally = await publishDeviceWindows(redis, keys, deviceReadings(DEVICES, 40));
  const dashboard = await RunningDashboard.start(redisUrl, keys.prefix, { devicePollMs: 100, ...settings });
  return { keys, tally, dashboard };
}

const path = (device: string, query = '') => `/api/devices/${encodeURIComponent(device)}/averages${query}`;

describe('DashboardServer: per-device API', () => {
  it("answers each device's windows at 1m, 1h and 1d, oldest first, across UTC midnight", async () => {
    const { tally, dashboard } = await publishedFleet();
    try {
      for (const device of DEVICES) {
        for (const resolution of ['1m', '1h', '1d']) {
          const expected = tally.expectedOfDevice(device, resolution).map(asApiWindow);
          const { status, body } = await dashboard.json<DeviceAveragesAnswer>(
            path(device, `?resolution=${resolution}`),
          );
          expect(status).toBe(200);
          expect(body).toEqual({ device, resolution, averages: expected });
        }
      }
      // 40 minutes from 23:40: two hours and two days, every device; the last sent no humidity.
      expect(tally.expectedOfDevice('sensor-1', '1d')).toHaveLength(2);
      expect(tally.expectedOfDevice('sensor-1', '1m')).toHaveLength(40);
      const dry = await dashboard.json<DeviceAveragesAnswer>(path('lab:fridge.3', '?resolution=1h'));
      expect(dry.body.averages.every((w) => !('average_humidity' in w))).toBe(true);
      // Without a resolution: 1h.
      const hourly = await dashboard.json<DeviceAveragesAnswer>(path('sensor-1'));
      expect(hourly.body.resolution).toBe('1h');
      expect(hourly.body.averages).toEqual(tally.expectedOfDevice('sensor-1', '1h').map(asApiWindow));
    } finally {
      await dashboard.stop();
    }
  });

  it('reads a time range (ISO or ms) and keeps the newest `limit` of it', async () => {
    const { tally, dashboard } = await publishedFleet();
    try {
      const minutes = tally.expectedOfDevice('Sensor-2', '1m').map(asApiWindow);
      const from = FIRST_READING + 15 * 60_000;
      const to = FIRST_READING + 25 * 60_000;
      const ranged = await dashboard.json<DeviceAveragesAnswer>(
        path('Sensor-2', `?resolution=1m&from=${new Date(from).toISOString()}&to=${to}`),
      );
      expect(ranged.body.averages).toEqual(minutes.filter((w) => w.start >= from && w.start <= to));
      expect(ranged.body.averages).toHaveLength(11);
      const newest = await dashboard.json<DeviceAveragesAnswer>(
        path('Sensor-2', `?resolution=1m&from=${from}&limit=3`),
      );
      expect(newest.body.averages).toEqual(minutes.slice(-3));
    } finally {
      await dashboard.stop();
    }
  });

  it('refuses a bad resolution, time, limit or device id with 400 naming it; an unknown device is 404', async () => {
    const { dashboard } = await publishedFleet();
    try {
      const cases: [string, RegExp][] = [
        [path('sensor-1', '?resolution=7m'), /^resolution: not a window size/],
        [path('sensor-1', '?resolution=1h&from=yesterday'), /^from: not an ISO 8601 time/],
        [path('sensor-1', '?to=-5'), /^to: /],
        [path('sensor-1', '?limit=1e3'), /^limit: a whole number from 1 to 2000/],
        [path('sensor-1', '?limit=0'), /^limit: /],
        ['/api/devices/sensor%2F1/averages', /^device: not a device id/],
        ['/api/devices/sensor%ZZ/averages', /^device: not a valid percent-encoded/],
        [`/api/devices/${'x'.repeat(65)}/averages`, /^device: not a device id/],
        ['/api/devices?q=a*b', /^q: /],
        ['/api/devices?limit=1001', /^limit: a whole number from 1 to 1000/],
        ['/api/averages?resolution=1w', /^resolution: /],
      ];
      for (const [url, message] of cases) {
        const { status, body } = await dashboard.json<Failure>(url);
        expect({ url, status }).toEqual({ url, status: 400 });
        expect(body.error).toMatch(message);
      }
      const unknown = await dashboard.json<Failure>(path('sensor-9', '?resolution=1m'));
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatch(/no such device: sensor-9/);
      // A known device with nothing in the range is an empty answer, not a 404.
      const empty = await dashboard.json<DeviceAveragesAnswer>(path('sensor-1', '?from=2030-01-01'));
      expect(empty).toEqual({ status: 200, body: { device: 'sensor-1', resolution: '1h', averages: [] } });
    } finally {
      await dashboard.stop();
    }
  });

  it('lists devices with their last reading and latest hour, most recent first; searches by substring', async () => {
    const { tally, dashboard } = await publishedFleet();
    try {
      const expectedOf = (device: string) => {
        const hours = tally.expectedOfDevice(device, '1h');
        const h = hours[hours.length - 1]!;
        return {
          device,
          last_ts: Math.max(...hours.map((w) => w.lastTs)),
          latest_hour: { start: h.start, count: h.n, mean: h.mean, stddev: h.stddev, min: h.min, max: h.max },
        };
      };
      const byRecency = DEVICES.map(expectedOf).sort((a, b) => b.last_ts - a.last_ts);
      const all = await dashboard.json<DevicesAnswer>('/api/devices');
      expect(all.body).toEqual({ matched: 3, devices: byRecency });
      expect(all.body.devices[0]!.latest_hour!.start).toBe(Date.UTC(2027, 0, 1, 0));

      const one = await dashboard.json<DevicesAnswer>('/api/devices?limit=1');
      expect(one.body).toEqual({ matched: 3, devices: byRecency.slice(0, 1) });
      // Case-insensitive, anywhere in the name.
      const sensors = await dashboard.json<DevicesAnswer>('/api/devices?q=SENSOR');
      expect(sensors.body).toEqual({
        matched: 2,
        devices: byRecency.filter((d) => d.device.toLowerCase().includes('sensor')),
      });
      const fridge = await dashboard.json<DevicesAnswer>('/api/devices?q=e.3&limit=5');
      expect(fridge.body.devices.map((d) => d.device)).toEqual(['lab:fridge.3']);
      const none = await dashboard.json<DevicesAnswer>('/api/devices?q=nothing');
      expect(none.body).toEqual({ matched: 0, devices: [] });
    } finally {
      await dashboard.stop();
    }
  });

  it('never answers more than the limit of a large fleet, and a device without an hour yet has null', async () => {
    const keys = new PipelineKeys(randomPrefix('fleet'));
    const members: (string | number)[] = [];
    for (let i = 0; i < 3000; i++) members.push(FIRST_READING + i, `dev-${i}`);
    await redis.zadd(keys.devicesIndex, ...members);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    try {
      const first = await dashboard.json<DevicesAnswer>('/api/devices');
      expect(first.body.matched).toBe(3000);
      expect(first.body.devices).toHaveLength(100);
      expect(first.body.devices[0]).toEqual({
        device: 'dev-2999',
        last_ts: FIRST_READING + 2999,
        latest_hour: null,
      });
      const search = await dashboard.json<DevicesAnswer>('/api/devices?q=dev-12&limit=1000');
      const expected = [];
      for (let i = 2999; i >= 0; i--) if (`dev-${i}`.includes('dev-12')) expected.push(`dev-${i}`);
      expect(search.body.matched).toBe(expected.length);
      expect(search.body.devices.map((d) => d.device)).toEqual(expected);
    } finally {
      await dashboard.stop();
    }
  });

  it('answers every device route as the least-privilege viewer user (pnpm acl)', async () => {
    const keys = new PipelineKeys(randomPrefix('devacl'));
    const tally = await publishDeviceWindows(redis, keys, deviceReadings(DEVICES, 5));
    const user = `${keys.prefix}-viewer`;
    const acl = { ...pipelineAcl(keys.prefix).viewer, user };
    await redis.call('ACL', 'SETUSER', ...aclSetUserArgs(acl, 'viewer-password-1'));
    const url = new URL(redisUrl);
    url.username = user;
    url.password = 'viewer-password-1';
    const dashboard = await RunningDashboard.start(url.toString(), keys.prefix, { devicePollMs: 100 });
    try {
      const list = await dashboard.json<DevicesAnswer>('/api/devices?q=sensor');
      expect(list.status).toBe(200);
      expect(list.body.matched).toBe(2);
      const newest = await dashboard.json<DevicesAnswer>('/api/devices?limit=2');
      expect(newest.status).toBe(200);
      expect(newest.body.devices.map((d) => d.latest_hour?.count)).toEqual([
        expect.any(Number),
        expect.any(Number),
      ]);
      const minutes = await dashboard.json<DeviceAveragesAnswer>(path('lab:fridge.3', '?resolution=1m'));
      expect(minutes.body.averages).toEqual(tally.expectedOfDevice('lab:fridge.3', '1m').map(asApiWindow));
      expect((await dashboard.json<Failure>(path('nobody'))).status).toBe(404);
      expect(
        (await dashboard.json<AveragesAnswer<WindowAverageJson>>('/api/averages?resolution=1d')).body.count,
      ).toBe(tally.expected('1d').length);
    } finally {
      await dashboard.stop();
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it("answers the fleet's series at a resolution: temps:averages:1m and :1d", async () => {
    const { tally, dashboard } = await publishedFleet();
    try {
      for (const resolution of ['1m', '1d']) {
        const { status, body } = await dashboard.json<AveragesAnswer<WindowAverageJson>>(
          `/api/averages?resolution=${resolution}`,
        );
        expect(status).toBe(200);
        const expected = tally.expected(resolution);
        expect(body.count).toBe(expected.length);
        expect(
          body.averages.map((a) => ({
            id: a.id,
            start: a.start,
            size: a.size,
            n: a.num_observations,
            mean: a.average_temp_f,
          })),
        ).toEqual(
          expected.map((w) => ({
            id: `${w.start}-0`,
            start: w.start,
            size: resolution,
            n: w.n,
            mean: w.mean,
          })),
        );
      }
    } finally {
      await dashboard.stop();
    }
  });

  it("pushes a device's new windows on its own event stream, replaying after Last-Event-ID, and stops following once no page watches", async () => {
    const { keys, tally, dashboard } = await publishedFleet();
    const minutes = tally.expectedOfDevice('sensor-1', '1m');
    const stream = await SseReader.open(`${dashboard.base}/api/devices/sensor-1/stream?resolution=1m`, {
      'last-event-id': `${minutes[36]!.start}-0`,
    });
    const other = await SseReader.open(`${dashboard.base}/api/devices/Sensor-2/stream?resolution=1m`);
    try {
      expect(stream.status).toBe(200);
      await stream.waitFor((e) => e.id === `${minutes[39]!.start}-0`);
      const events = () =>
        stream.events
          .filter((e) => e.event === 'device-window')
          .map((e) => JSON.parse(e.data) as DeviceWindowEvent);
      expect(events()).toEqual(
        minutes
          .slice(37)
          .map((w) => ({ id: `${w.start}-0`, device: 'sensor-1', resolution: '1m', ...asApiWindow(w) })),
      );
      const next = {
        ...minutes[39]!,
        start: minutes[39]!.start + 60_000,
        firstTs: minutes[39]!.firstTs + 60_000,
        lastTs: minutes[39]!.lastTs + 60_000,
      };
      const writtenAt = Date.now();
      await writeDeviceWindow(redis, keys, 'sensor-1', '1m', next);
      const pushed = await stream.waitFor((e) => e.id === `${next.start}-0`);
      expect(pushed.at - writtenAt).toBeLessThan(1000);
      expect(events().at(-1)).toEqual({
        id: `${next.start}-0`,
        device: 'sensor-1',
        resolution: '1m',
        ...asApiWindow(next),
      });
      // Another device's page sees none of it; a device's other sizes are other streams.
      await other.waitFor((e) => e.event === 'health');
      expect(other.events.filter((e) => e.event === 'device-window')).toEqual([]);
      const status = await dashboard.json<{ viewer: { streamClients: number } }>('/api/status');
      expect(status.body.viewer.streamClients).toBe(2);
    } finally {
      stream.close();
      other.close();
    }
    try {
      await dashboard.until<{ viewer: { streamClients: number } }>(
        '/api/status',
        (s) => s.viewer.streamClients === 0,
        5000,
      );
    } finally {
      await dashboard.stop();
    }
  });

  it('refuses to follow more device series at once than maxFollowedDevices (503), and follows again once one closes', async () => {
    const { dashboard } = await publishedFleet({ maxFollowedDevices: 1 });
    const first = await SseReader.open(`${dashboard.base}/api/devices/sensor-1/stream`);
    try {
      const same = await SseReader.open(`${dashboard.base}/api/devices/sensor-1/stream`);
      expect(same.status).toBe(200);
      same.close();
      const refused = await fetch(`${dashboard.base}/api/devices/Sensor-2/stream`);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as Failure).error).toMatch(/too many event streams followed/);
    } finally {
      first.close();
    }
    try {
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        const open = await SseReader.open(`${dashboard.base}/api/devices/Sensor-2/stream`);
        status = open.status;
        open.close();
      }
      expect(status).toBe(200);
    } finally {
      await dashboard.stop();
    }
  });
});
