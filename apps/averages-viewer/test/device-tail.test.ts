import { sharedRedis } from '@pipe/fixtures';
import { parseWindowSize, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { tailSeries } from '../src/series.js';
import { asApiWindow, deviceReadings, publishDeviceWindows, writeDeviceWindow } from './device-fixture.js';
import { RunningTail } from './running-tail.js';

// `pipe-viewer tail --device <id> --resolution <size>` and `tail --resolution <size>`, as main.ts
// builds them (tailSeries), in this process against the run's redis-server.

const { redis } = sharedRedis('viewer');
const DEVICES = ['sensor-1', 'lab:fridge.3'];

async function published() {
  const keys = new PipelineKeys(randomPrefix('dtail'));
  const tally = await publishDeviceWindows(redis, keys, deviceReadings(DEVICES, 30));
  const series = (device: string | undefined, resolution: string) =>
    tailSeries(keys, device, parseWindowSize(resolution));
  return { keys, tally, series };
}

const two = (n: number) => n.toFixed(2);

describe('AveragesTail: --device and --resolution', () => {
  it('prints with --json every window of a device at each resolution, across UTC midnight, oldest first', async () => {
    const { keys, tally, series } = await published();
    for (const device of DEVICES) {
      for (const resolution of ['1m', '1h', '1d']) {
        const { stdout } = await RunningTail.run(redis, keys, {
          json: true,
          series: series(device, resolution),
        });
        expect(stdout.map((line) => JSON.parse(line))).toEqual(
          tally.expectedOfDevice(device, resolution).map((w) => ({ device, resolution, ...asApiWindow(w) })),
        );
      }
    }
  });

  it('prints a sentence per device window with its mean, count, min, max, stddev and humidity', async () => {
    const { keys, tally, series } = await published();
    const { stdout } = await RunningTail.run(redis, keys, { series: series('sensor-1', '1h') });
    expect(stdout).toEqual(
      tally.expectedOfDevice('sensor-1', '1h').map((w) => {
        const start = new Date(w.start).toISOString();
        return (
          `sensor-1 1h from ${start.slice(0, 10).replaceAll('-', '/')} ${start.slice(11, 16)}: mean ${two(w.mean)}F (${w.n} readings) ` +
          `min ${two(w.min)}F max ${two(w.max)}F stddev ${two(w.stddev)}F humidity ${two(w.meanHumidity!)}%`
        );
      }),
    );
    expect(stdout[0]).toMatch(/^sensor-1 1h from 2026\/12\/31 23:00: mean /);
  });

  it("keeps a position per device and resolution, apart from the hourly averages'; --last N shows the newest N", async () => {
    const { keys, tally, series } = await published();
    const minutes = tally.expectedOfDevice('sensor-1', '1m');
    const first = await RunningTail.run(redis, keys, { json: true, series: series('sensor-1', '1m') });
    expect(first.stdout).toHaveLength(30);
    expect(await redis.get(keys.viewerPosition('default', 'device:sensor-1:1m'))).toBe(
      `${minutes[29]!.start}-0`,
    );
    expect(await redis.get(keys.viewerPosition('default'))).toBeNull();

    const again = await RunningTail.run(redis, keys, { json: true, series: series('sensor-1', '1m') });
    expect(again.stdout).toEqual([]);
    expect(again.stderr).toEqual([
      `no new averages in ${keys.deviceWindows('sensor-1', parseWindowSize('1m'))} after ${minutes[29]!.start}-0`,
    ]);
    // Another resolution of the same device starts from its own beginning.
    const hours = await RunningTail.run(redis, keys, { json: true, series: series('sensor-1', '1h') });
    expect(hours.stdout).toHaveLength(2);
    const last = await RunningTail.run(redis, keys, {
      json: true,
      last: 2,
      series: series('sensor-1', '1m'),
    });
    expect(last.stdout.map((l) => JSON.parse(l).start)).toEqual(minutes.slice(-2).map((w) => w.start));
  });

  it("follows a device's new windows as they are written", async () => {
    const { keys, tally, series } = await published();
    const minutes = tally.expectedOfDevice('lab:fridge.3', '1m');
    const tail = RunningTail.start(redis, keys, {
      json: true,
      follow: true,
      series: series('lab:fridge.3', '1m'),
      blockMs: 200,
    });
    try {
      const lastStart = minutes[29]!.start;
      await tail.waitForLine('stdout', (line) => JSON.parse(line).start === lastStart);
      const last = minutes[29]!;
      const next = {
        ...last,
        start: last.start + 60_000,
        firstTs: last.firstTs + 60_000,
        lastTs: last.lastTs + 60_000,
      };
      await writeDeviceWindow(redis, keys, 'lab:fridge.3', '1m', next);
      await tail.waitForLine('stdout', (line) => JSON.parse(line).start === next.start);
      expect(JSON.parse(tail.lines('stdout')[30]!)).toEqual({
        device: 'lab:fridge.3',
        resolution: '1m',
        ...asApiWindow(next),
      });
    } finally {
      await tail.stop();
    }
  });

  it("prints the fleet's windows of another size with --resolution, in the hourly sentence's words", async () => {
    const { keys, tally, series } = await published();
    const { stdout } = await RunningTail.run(redis, keys, { series: series(undefined, '1d') });
    expect(stdout).toEqual(
      tally.expected('1d').map((w) => {
        const day = new Date(w.start).toISOString().slice(0, 10).replaceAll('-', '/');
        return `Average temperature for ${day} 00:00 (1d) was ${two(w.mean)}F (${w.n} observations). min ${two(w.min)}F max ${two(w.max)}F`;
      }),
    );
    expect(series(undefined, '1h')).toBeUndefined();
  });
});
