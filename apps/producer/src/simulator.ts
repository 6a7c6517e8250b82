import type { Reading } from '@pipe/streams';

/** mulberry32: a tiny seeded PRNG, so a seed always yields the same readings on every platform. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed flag (`42`, `demo`) as 32 bits: numbers as they are, other text through FNV-1a. */
export function seedFrom(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) >>> 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export function deviceId(index: number): string {
  return `sensor-${String(index + 1).padStart(3, '0')}`;
}

/**
 * Walk bounds: °F as in the RU202 exercise's sample data, humidity in percent as in the blog seed. A
 * slight pull back to the centre keeps a day-long walk plausible (a free walk drifts to a bound).
 */
export const TEMP_F = { min: 0, max: 120, start: [50, 70], step: 1, centre: 60 } as const;
export const HUMIDITY = { min: 0, max: 100, start: [30, 70], step: 0.5, centre: 50 } as const;
export const PULL = 0.005;

interface DeviceState {
  device: string;
  temp: number;
  humidity: number;
}

/**
 * N devices whose temperature and humidity each follow a bounded random walk. Every call to
 * readingsAt() advances every device by one step, in device order, so the same seed and the same
 * sequence of calls give the same readings.
 */
export class SensorSimulator {
  private readonly random: () => number;
  private readonly states: DeviceState[];

  constructor(devices: number, seed: number) {
    this.random = mulberry32(seed);
    this.states = Array.from({ length: devices }, (_, i) => ({
      device: deviceId(i),
      temp: this.between(TEMP_F.start[0], TEMP_F.start[1]),
      humidity: this.between(HUMIDITY.start[0], HUMIDITY.start[1]),
    }));
  }

  get deviceCount(): number {
    return this.states.length;
  }

  /** One reading per device at event time `ts`, appended to `out`. */
  readingsAt(ts: number, out: Reading[] = []): Reading[] {
    for (const state of this.states) {
      state.temp = clamp(
        state.temp + this.step(TEMP_F.step) + PULL * (TEMP_F.centre - state.temp),
        TEMP_F.min,
        TEMP_F.max,
      );
      state.humidity = clamp(
        state.humidity + this.step(HUMIDITY.step) + PULL * (HUMIDITY.centre - state.humidity),
        HUMIDITY.min,
        HUMIDITY.max,
      );
      out.push({
        device: state.device,
        ts,
        temp_f: round(state.temp, 2),
        humidity: round(state.humidity, 1),
      });
    }
    return out;
  }

  private between(low: number, high: number): number {
    return low + this.random() * (high - low);
  }

  private step(size: number): number {
    return (this.random() * 2 - 1) * size;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(value, max));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
