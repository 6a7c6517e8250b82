import { describe, expect, it } from 'vitest';
import { deviceLastSeen, listDevices } from '../src/device-index.js';
import { sharedServer } from './helpers.js';

const { redis, keys } = sharedServer('device-index');

describe('listDevices: the devices index, most recently seen first', () => {
  it('answers the newest `limit` with their latest hour, searches any case anywhere in the name, and counts every match', async () => {
    const hour = { start: 3_600_000, count: 60, mean: 51.5, stddev: 1.25, min: 49, max: 54 };
    await redis.zadd(
      keys.devicesIndex,
      100,
      'sensor-a',
      300,
      'Sensor-B',
      200,
      'lab:fridge.1',
      400,
      'no-hour',
    );
    await redis.hset(
      keys.devicesLatest,
      'sensor-a',
      JSON.stringify(hour),
      'Sensor-B',
      '{"start":',
      'lab:fridge.1',
      JSON.stringify({ ...hour, mean: 40 }),
    );

    const newest = await listDevices(redis, keys, { limit: 2 });
    expect(newest).toEqual({
      matched: 4,
      devices: [
        { device: 'no-hour', lastTs: 400 },
        { device: 'Sensor-B', lastTs: 300 },
      ],
      malformed: ['Sensor-B'],
    });
    const sensors = await listDevices(redis, keys, { contains: 'SENSOR', limit: 10 });
    expect(sensors.devices.map((d) => d.device)).toEqual(['Sensor-B', 'sensor-a']);
    expect(sensors.devices[1]).toEqual({ device: 'sensor-a', lastTs: 100, latestHour: hour });
    const dotted = await listDevices(redis, keys, { contains: 'e.1', limit: 1 });
    expect(dotted).toMatchObject({
      matched: 1,
      devices: [{ device: 'lab:fridge.1', latestHour: { mean: 40 } }],
    });
    expect(await listDevices(redis, keys, { contains: 'zzz', limit: 5 })).toEqual({
      matched: 0,
      devices: [],
      malformed: [],
    });
    await expect(listDevices(redis, keys, { contains: 'a*', limit: 5 })).rejects.toThrow(
      /not a device name search/,
    );
    expect(await deviceLastSeen(redis, keys, 'Sensor-B')).toBe(300);
    expect(await deviceLastSeen(redis, keys, 'sensor-b')).toBeUndefined();
  });
});
