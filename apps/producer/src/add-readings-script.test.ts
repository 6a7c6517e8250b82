import { describe, expect, it } from 'vitest';
import { encodeReadings } from './add-readings-script.js';
import { fingerprintOf, packFingerprints, WrittenReadings } from './reading-fingerprint.js';

const ts = 1_796_342_390_000;

describe('encodeReadings', () => {
  it('lists four strings per reading, in batch order, with an empty humidity when there is none', () => {
    const { readings } = encodeReadings([
      { device: 'sensor-001', ts, temp_f: 71.5, humidity: 40 },
      { device: 'sensor-002', ts: ts + 1, temp_f: -3.25 },
    ]);
    expect(JSON.parse(readings)).toEqual([
      'sensor-001',
      String(ts),
      '71.5',
      '40',
      'sensor-002',
      String(ts + 1),
      '-3.25',
      '',
    ]);
  });

  it('packs the fingerprint of each reading in batch order, the ones a later run recognises', () => {
    const batch = [
      { device: 'a', ts, temp_f: 1 },
      { device: 'b', ts, temp_f: 2, humidity: 0 },
    ];
    const { fingerprints } = encodeReadings(batch);
    expect(fingerprints).toEqual(packFingerprints(batch.map(fingerprintOf)));
    const written = new WrittenReadings([fingerprints]);
    expect(written.take(fingerprintOf(batch[1]!))).toBe(true);
    expect(written.take(fingerprintOf({ device: 'b', ts, temp_f: 2 }))).toBe(false);
  });

  it('encodes an empty batch as an empty array and no fingerprints', () => {
    expect(encodeReadings([])).toEqual({ readings: '[]', fingerprints: Buffer.alloc(0) });
  });
});
