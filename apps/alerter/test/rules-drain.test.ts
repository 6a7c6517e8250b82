import { sharedRedis, writeReadings } from '@pipe/fixtures';
import type { Reading } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { drainOnce, transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter');
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const MIN = 60_000;

/** A device's readings, one a minute from T0, with these temperatures. */
const series = (device: string, temps: number[], from = T0): Reading[] =>
  temps.map((temp_f, i) => ({ device, ts: from + i * MIN, temp_f }));

const FREEZER = `
rules:
  - name: freezer-warm
    devices: "freezer-*"
    metric: temp_f
    above: 10
    for: 15m
    clear: 8
`;

describe('threshold rules drained', () => {
  it('fires once and resolves once when a device stays above the threshold longer than for', async () => {
    const { keys } = fresh();
    // 20 minutes above 10 °F, then back to 5.
    await writeReadings(redis, keys, series('freezer-1', [5, ...Array(20).fill(12), 5, 5]));
    await drainOnce(redis, keys, FREEZER);
    expect(await transitions(redis, keys)).toEqual([
      {
        rule: 'freezer-warm',
        device: 'freezer-1',
        state: 'firing',
        since: String(T0 + MIN),
        at: String(T0 + 16 * MIN),
        value: '12',
      },
      {
        rule: 'freezer-warm',
        device: 'freezer-1',
        state: 'resolved',
        since: String(T0 + MIN),
        at: String(T0 + 21 * MIN),
        value: '5',
      },
    ]);
  });

  it('never fires when the device is above the threshold for less than for', async () => {
    const { keys } = fresh();
    await writeReadings(
      redis,
      keys,
      series('freezer-1', [5, ...Array(14).fill(12), 5, ...Array(14).fill(12), 5]),
    );
    await drainOnce(redis, keys, FREEZER);
    expect(await transitions(redis, keys)).toEqual([]);
  });

  it('fires once for a value flapping inside the hysteresis band, and resolves below clear', async () => {
    const { keys } = fresh();
    const flapping = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 11 : 9));
    await writeReadings(redis, keys, series('freezer-2', [...Array(16).fill(12), ...flapping, 7]));
    await drainOnce(redis, keys, FREEZER);
    const got = await transitions(redis, keys);
    expect(got.map((t) => t.state)).toEqual(['firing', 'resolved']);
    expect(got[1]).toMatchObject({ value: '7', at: String(T0 + 56 * MIN) });
  });

  it('applies rules only to the devices their glob matches, and below rules on humidity', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [
      ...series('room-1', [50, 50]),
      { device: 'greenhouse-a', ts: T0, temp_f: 70, humidity: 20 },
      { device: 'greenhouse-a', ts: T0 + MIN, temp_f: 70, humidity: 40 },
    ]);
    await drainOnce(
      redis,
      keys,
      `${FREEZER}
  - name: dry
    devices: "greenhouse-?"
    metric: humidity
    below: 30
    clear: 35
`,
    );
    expect(await transitions(redis, keys)).toEqual([
      {
        rule: 'dry',
        device: 'greenhouse-a',
        state: 'firing',
        since: String(T0),
        at: String(T0),
        value: '20',
      },
      {
        rule: 'dry',
        device: 'greenhouse-a',
        state: 'resolved',
        since: String(T0),
        at: String(T0 + MIN),
        value: '40',
      },
    ]);
  });
});

describe('no_data_for drained', () => {
  const SILENT = `
rules:
  - name: sensor-silent
    devices: "*"
    no_data_for: 10m
`;

  it('fires for a device silent longer than no_data_for and resolves when it reports again', async () => {
    const { keys } = fresh();
    // sensor-1 reports every minute for 30 min; sensor-2 goes quiet from minute 5 to minute 20.
    await writeReadings(
      redis,
      keys,
      [
        ...series('sensor-1', Array(30).fill(60)),
        ...series('sensor-2', Array(5).fill(60)),
        ...series('sensor-2', Array(10).fill(61), T0 + 20 * MIN),
      ].sort((a, b) => a.ts - b.ts),
    );
    await drainOnce(redis, keys, SILENT);
    expect(await transitions(redis, keys)).toEqual([
      {
        rule: 'sensor-silent',
        device: 'sensor-2',
        state: 'firing',
        since: String(T0 + 4 * MIN),
        at: String(T0 + 14 * MIN),
        value: '',
      },
      {
        rule: 'sensor-silent',
        device: 'sensor-2',
        state: 'resolved',
        since: String(T0 + 4 * MIN),
        at: String(T0 + 20 * MIN),
        value: '61',
      },
    ]);
  });

  it('fires at the end of a drain for a device silent by the newest reading, and resolves on its return', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [
      ...series('sensor-1', Array(30).fill(60)),
      ...series('sensor-3', [60, 60]),
    ]);
    await drainOnce(redis, keys, SILENT);
    const firing = {
      rule: 'sensor-silent',
      device: 'sensor-3',
      state: 'firing',
      since: String(T0 + MIN),
      at: String(T0 + 11 * MIN),
      value: '',
    };
    expect(await transitions(redis, keys)).toEqual([firing]);
    await writeReadings(redis, keys, series('sensor-3', [62], T0 + 31 * MIN));
    await drainOnce(redis, keys, SILENT);
    expect(await transitions(redis, keys)).toEqual([
      firing,
      { ...firing, state: 'resolved', at: String(T0 + 31 * MIN), value: '62' },
    ]);
  });
});

describe('exactly once', () => {
  it('gives the same entries when the same data is drained twice, and when every entry is delivered again', async () => {
    const { keys } = fresh();
    const readings = [
      ...series('freezer-1', [5, ...Array(20).fill(12), 5]),
      ...series('freezer-2', [...Array(16).fill(12), 9, 11, 9, 7]),
    ].sort((a, b) => a.ts - b.ts);
    await writeReadings(redis, keys, readings);
    await drainOnce(redis, keys, FREEZER);
    const once = await transitions(redis, keys);
    expect(once).toHaveLength(4);
    await drainOnce(redis, keys, FREEZER);
    expect(await transitions(redis, keys)).toEqual(once);
    // A crash between script and XACK, for every batch: the group reads everything again.
    await redis.xgroup('SETID', keys.partitionKeyFor(T0), 'alerter', '0');
    const again = await drainOnce(redis, keys, FREEZER);
    expect(again.applied).toBe(0);
    expect(await transitions(redis, keys)).toEqual(once);
  });

  it('reads partitions oldest first, so a device crossing midnight is applied in order', async () => {
    const { keys } = fresh();
    const beforeMidnight = Date.UTC(2026, 0, 5, 23, 50);
    await writeReadings(redis, keys, series('freezer-1', Array(20).fill(12), beforeMidnight));
    await drainOnce(redis, keys, FREEZER, { count: 3 });
    expect(await transitions(redis, keys)).toEqual([
      {
        rule: 'freezer-warm',
        device: 'freezer-1',
        state: 'firing',
        since: String(beforeMidnight),
        at: String(beforeMidnight + 15 * MIN),
        value: '12',
      },
    ]);
  });

  it('finishes a partition some entries were deleted from (Redis then cannot tell the lag) and goes on to the next', async () => {
    const { keys } = fresh();
    const beforeMidnight = Date.UTC(2026, 0, 5, 23, 50);
    await writeReadings(redis, keys, series('freezer-1', Array(20).fill(12), beforeMidnight));
    const first = keys.partitionKeyFor(beforeMidnight);
    const [, middle] = await redis.xrange(first, '-', '+', 'COUNT', 2);
    await redis.xdel(first, middle![0]);
    const alerter = await drainOnce(redis, keys, FREEZER, { count: 3 });
    expect(alerter.applied).toBe(19);
    const positions = await redis.hgetall(keys.alertPositions);
    for (const partition of [first, keys.partitionKeyFor(beforeMidnight + 15 * MIN)]) {
      const [[newest]] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [[string, string[]]];
      expect(positions[partition]).toBe(newest);
    }
  });
});
