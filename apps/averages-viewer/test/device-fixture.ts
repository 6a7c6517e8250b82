import { type ExpectedWindow, WindowTally } from '@pipe/fixtures';
import {
  encodeWindowAverage,
  hourLabel,
  parseWindowSize,
  type PipelineKeys,
  type Reading,
  type RedisClient,
} from '@pipe/streams';

/** The sizes the device tests publish, as `--windows 1m,1h,1d --per-device` does. */
export const DEVICE_SIZES = ['1m', '1h', '1d'];

/** 23:40 UTC on 2026-12-31: the readings cross midnight into 2027. */
export const FIRST_READING = Date.UTC(2026, 11, 31, 23, 40);

/**
 * Readings of `devices` devices every 15 s for `minutes` minutes from FIRST_READING, written in a
 * shuffled order (the aggregator counts them in any order); the last device sends no humidity.
 */
export function deviceReadings(devices: string[], minutes: number): Reading[] {
  const readings: Reading[] = [];
  for (let t = FIRST_READING; t < FIRST_READING + minutes * 60_000; t += 15_000) {
    devices.forEach((device, d) => {
      const ts = t + d * 1000 + (t % 7);
      const temp_f = 40 + d * 3 + 8 * Math.sin(ts / 600_000) + ((ts / 1000) % 13) / 10;
      const reading: Reading = { device, ts, temp_f: Math.round(temp_f * 100) / 100 };
      if (d < devices.length - 1) reading.humidity = 30 + ((ts / 1000) % 17);
      readings.push(reading);
    });
  }
  // A fixed shuffle: the expected windows must not depend on the order.
  return readings
    .map((r, i) => ({ r, k: (i * 7919) % readings.length }))
    .sort((a, b) => a.k - b.k)
    .map(({ r }) => r);
}

/**
 * Writes what the aggregator's `--per-device` publishes for these readings, in the layout its README
 * documents (fields by name, not pipe's codecs): each device's stream of each size, entry `<start>-0`
 * with `count mean min max stddev first_ms last_ms average_humidity?`; the index `temps:devices`
 * (device → last reading ms) and `{temps:devices}:latest` (device → JSON of its latest hour); the
 * fleet's `temps:averages:<size>` for the sizes other than 1h. Returns the tally of expected windows.
 */
export async function publishDeviceWindows(
  redis: RedisClient,
  keys: PipelineKeys,
  readings: Reading[],
): Promise<WindowTally> {
  const tally = new WindowTally(DEVICE_SIZES, { perDevice: true }).addAll(readings);
  for (const device of tally.devices) {
    for (const size of DEVICE_SIZES) {
      for (const w of tally.expectedOfDevice(device, size))
        await writeDeviceWindow(redis, keys, device, size, w);
    }
    const hours = tally.expectedOfDevice(device, '1h');
    const latest = hours[hours.length - 1]!;
    const lastTs = Math.max(...tally.expectedOfDevice(device, '1d').map((w) => w.lastTs));
    await redis.zadd(keys.devicesIndex, lastTs, device);
    await redis.hset(
      keys.devicesLatest,
      device,
      JSON.stringify({
        start: latest.start,
        count: latest.n,
        mean: latest.mean,
        stddev: latest.stddev,
        min: latest.min,
        max: latest.max,
      }),
    );
  }
  for (const size of DEVICE_SIZES.filter((s) => s !== '1h')) {
    for (const w of tally.expected(size)) {
      const { date, hour } = hourLabel(w.start);
      const fields = encodeWindowAverage({
        start: w.start,
        size,
        date,
        hour,
        average_temp_f: w.mean,
        num_observations: w.n,
        min_temp_f: w.min,
        max_temp_f: w.max,
        devices: w.devices,
        stddev_temp_f: w.stddev,
        first_ts: w.firstTs,
        last_ts: w.lastTs,
        ...(w.meanHumidity === undefined ? {} : { average_humidity: w.meanHumidity }),
      });
      await redis.call('XADD', keys.averagesFor(parseWindowSize(size)), `${w.start}-0`, ...fields);
    }
  }
  return tally;
}

/** One device window as `publish-device-windows-n.lua` writes it. */
export async function writeDeviceWindow(
  redis: RedisClient,
  keys: PipelineKeys,
  device: string,
  size: string,
  w: ExpectedWindow,
): Promise<void> {
  // The fields in the script's order, written from the test's own figures (not through the codecs).
  const figures: [string, number][] = [
    ['count', w.n],
    ['mean', w.mean],
    ['min', w.min],
    ['max', w.max],
    ['stddev', w.stddev],
    ['first_ms', w.firstTs - w.start],
    ['last_ms', w.lastTs - w.start],
  ];
  const fields = figures.flatMap(([name, value]) => [name, String(value)]);
  if (w.meanHumidity !== undefined) fields.push('average_humidity', String(w.meanHumidity));
  await redis.call('XADD', keys.deviceWindows(device, parseWindowSize(size)), `${w.start}-0`, ...fields);
}

/** What the API must answer for an expected window. */
export function asApiWindow(w: ExpectedWindow) {
  return {
    start: w.start,
    count: w.n,
    mean: w.mean,
    min: w.min,
    max: w.max,
    stddev: w.stddev,
    first_ts: w.firstTs,
    last_ts: w.lastTs,
    ...(w.meanHumidity === undefined ? {} : { average_humidity: w.meanHumidity }),
  };
}
