import { describe, expect, it } from 'vitest';
import { fingerprintOf, packFingerprints, WrittenReadings } from './reading-fingerprint.js';

const reading = { device: 'sensor-1', ts: 1_796_342_390_000, temp_f: 71.5 };

describe('fingerprintOf', () => {
  it('is the same for the same reading and differs when any field does', () => {
    expect(fingerprintOf({ ...reading })).toEqual(fingerprintOf(reading));
    const others = [
      { ...reading, device: 'sensor-2' },
      { ...reading, ts: reading.ts + 1 },
      { ...reading, temp_f: 71.50001 },
      { ...reading, humidity: 40 },
      { ...reading, device: 'sensor-1\u00001796342390000' },
    ];
    const fps = new Set([reading, ...others].map((r) => JSON.stringify(fingerprintOf(r))));
    expect(fps.size).toBe(others.length + 1);
  });

  it('has no collision among a million readings of one day', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) {
      const { hi, lo } = fingerprintOf({
        device: `sensor-${i % 100}`,
        ts: reading.ts + i,
        temp_f: (i % 500) / 10,
      });
      seen.add(`${hi}:${lo}`);
    }
    expect(seen.size).toBe(1_000_000);
    // About a second alone; with coverage on and a busy machine several times that.
  }, 60_000);
});

describe('WrittenReadings', () => {
  it('takes each written occurrence once, across batches, and nothing that was not written', () => {
    const a = fingerprintOf(reading);
    const b = fingerprintOf({ ...reading, ts: reading.ts + 1 });
    const c = fingerprintOf({ ...reading, ts: reading.ts + 2 });
    const written = new WrittenReadings([packFingerprints([b, a]), packFingerprints([a])]);
    expect(written.size).toBe(3);
    expect([written.take(a), written.take(a), written.take(a)]).toEqual([true, true, false]);
    expect([written.take(c), written.take(b), written.take(b)]).toEqual([false, true, false]);
  });
});
