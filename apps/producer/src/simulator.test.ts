import { describe, expect, it } from 'vitest';
import { deviceId, HUMIDITY, mulberry32, PULL, SensorSimulator, seedFrom, TEMP_F } from './simulator.js';

describe('mulberry32', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect([c(), c(), c()]).not.toEqual(first);
    for (const x of first) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('seedFrom', () => {
  it('takes numbers as they are and hashes other text', () => {
    expect(seedFrom('42')).toBe(42);
    expect(seedFrom('demo')).toBe(seedFrom('demo'));
    expect(seedFrom('demo')).not.toBe(seedFrom('demo2'));
  });
});

describe('SensorSimulator', () => {
  it('names devices sensor-001, sensor-002, ...', () => {
    expect(deviceId(0)).toBe('sensor-001');
    const readings = new SensorSimulator(3, 1).readingsAt(1000);
    expect(readings.map((r) => r.device)).toEqual(['sensor-001', 'sensor-002', 'sensor-003']);
    expect(readings.every((r) => r.ts === 1000)).toBe(true);
  });

  it('is deterministic for a seed', () => {
    const run = (seed: number) => {
      const sim = new SensorSimulator(2, seed);
      return [sim.readingsAt(0), sim.readingsAt(1000)].flat();
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('keeps every walk within its bounds, moving by at most one step plus the pull to the centre', () => {
    const sim = new SensorSimulator(5, 99);
    let previous = sim.readingsAt(0);
    let [minT, maxT, minH, maxH, maxStep] = [Infinity, -Infinity, Infinity, -Infinity, 0];
    for (let t = 1; t < 20_000; t++) {
      const next = sim.readingsAt(t);
      next.forEach((r, i) => {
        minT = Math.min(minT, r.temp_f);
        maxT = Math.max(maxT, r.temp_f);
        minH = Math.min(minH, r.humidity!);
        maxH = Math.max(maxH, r.humidity!);
        maxStep = Math.max(maxStep, Math.abs(r.temp_f - previous[i]!.temp_f));
      });
      previous = next;
    }
    expect(minT).toBeGreaterThanOrEqual(TEMP_F.min);
    expect(maxT).toBeLessThanOrEqual(TEMP_F.max);
    expect(minH).toBeGreaterThanOrEqual(HUMIDITY.min);
    expect(maxH).toBeLessThanOrEqual(HUMIDITY.max);
    expect(maxStep).toBeLessThanOrEqual(TEMP_F.step + PULL * TEMP_F.max + 0.01);
    // The walk does move: 20,000 steps cover more than a few degrees.
    expect(maxT - minT).toBeGreaterThan(5);
  });
});
