import type { Reading } from '@pipe/streams';

/** Bytes a fingerprint takes in a batch ledger (add-readings-2.lua keeps them beside the batch id). */
export const FINGERPRINT_BYTES = 8;

/** One 32-bit MurmurHash3 lane over the UTF-16 code units of `text`. */
function lane(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A reading's identity: 64 bits of its device, time, temperature and humidity as they are written. Two
 * readings with the same fingerprint are the same reading (RedisTimeSeries calls a second sample of a
 * series at the same time a duplicate; here the values must match too). Among a partition's n readings,
 * a new one is mistaken for a written one with probability about n / 2^64 (1 in 18e12 at a million).
 * Not a cryptographic hash: whoever feeds the producer chooses its readings anyway.
 */
export function fingerprintOf(reading: Reading): bigint {
  const text = `${reading.device}\u0000${reading.ts}\u0000${reading.temp_f}\u0000${reading.humidity ?? ''}`;
  return (BigInt(lane(text, 0x9747b28c)) << 32n) | BigInt(lane(text, 0x5bd1e995));
}

/** The fingerprints of a batch's readings, packed for the script, in reading order. */
export function packFingerprints(fingerprints: bigint[]): Buffer {
  const packed = Buffer.allocUnsafe(fingerprints.length * FINGERPRINT_BYTES);
  for (const [i, fp] of fingerprints.entries()) packed.writeBigUInt64BE(fp, i * FINGERPRINT_BYTES);
  return packed;
}

/**
 * The readings earlier runs wrote to one partition, as a multiset of fingerprints (an input may hold the
 * same reading twice, and then both were written): sorted, 8 bytes each, so a re-run of millions of
 * readings holds them compactly. take() consumes one occurrence.
 */
export class WrittenReadings {
  private readonly sorted: BigUint64Array;
  private readonly taken: Uint8Array;

  constructor(packed: Buffer[]) {
    const total = packed.reduce((n, b) => n + Math.floor(b.length / FINGERPRINT_BYTES), 0);
    this.sorted = new BigUint64Array(total);
    let at = 0;
    for (const buffer of packed) {
      for (let o = 0; o + FINGERPRINT_BYTES <= buffer.length; o += FINGERPRINT_BYTES)
        this.sorted[at++] = buffer.readBigUInt64BE(o);
    }
    this.sorted.sort();
    this.taken = new Uint8Array(total);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** True when an untaken occurrence of `fp` was there (the reading was written before); takes it. */
  take(fp: bigint): boolean {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < fp) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.sorted.length && this.sorted[i] === fp; i++) {
      if (!this.taken[i]) {
        this.taken[i] = 1;
        return true;
      }
    }
    return false;
  }
}
