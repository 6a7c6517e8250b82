import type { Reading } from '@pipe/streams';

/** Bytes a fingerprint takes in a batch ledger (add-readings-2.lua keeps them beside the batch id). */
export const FINGERPRINT_BYTES = 8;

/**
 * A reading's identity: 64 bits of its device, time, temperature and humidity as they are written, as
 * two 32-bit halves (plain numbers: BigInt arithmetic would cost more than the hash). Two readings with
 * the same fingerprint are the same reading (RedisTimeSeries calls a second sample of a series at the
 * same time a duplicate; here the values must match too). Among a partition's n readings, a new one is
 * mistaken for a written one with probability about n / 2^64 (1 in 18e12 at a million).
 * Not a cryptographic hash: whoever feeds the producer chooses its readings anyway.
 */
export interface Fingerprint {
  hi: number;
  lo: number;
}

/** MurmurHash3's finalizer: every input bit reaches every output bit. */
function finish(h: number, length: number): number {
  h ^= length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The fingerprint of a reading's fields as the script writes them (device, ts, temp_f, humidity or ''):
 * two MurmurHash3 lanes (one UTF-16 code unit per block, different seeds) over the fields and a
 * separator after each, in one pass.
 */
export function fingerprintOfFields(fields: readonly [string, string, string, string]): Fingerprint {
  let a = 0x9747b28c;
  let b = 0x5bd1e995;
  let length = 0;
  for (const field of fields) {
    for (let i = 0; i <= field.length; i++) {
      const c = i < field.length ? field.charCodeAt(i) : 0xffff; // 0xffff: not a character, a separator
      let k = Math.imul(c, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      a ^= k;
      a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
      b ^= Math.imul(k, 0x27d4eb2d);
      b = (Math.imul((b << 15) | (b >>> 17), 5) + 0x52dce729) | 0;
    }
    length += field.length + 1;
  }
  return { hi: finish(a, length), lo: finish(b, length) };
}

export function fingerprintOf(reading: Reading): Fingerprint {
  return fingerprintOfFields(readingFields(reading));
}

/** A reading's fields as the batch script takes them (see add-readings-2.lua). */
export function readingFields(reading: Reading): [string, string, string, string] {
  return [
    reading.device,
    String(reading.ts),
    String(reading.temp_f),
    reading.humidity === undefined ? '' : String(reading.humidity),
  ];
}

/** The fingerprints of a batch's readings, packed for the script, in reading order. */
export function packFingerprints(fingerprints: Fingerprint[]): Buffer {
  const packed = Buffer.allocUnsafe(fingerprints.length * FINGERPRINT_BYTES);
  for (const [i, { hi, lo }] of fingerprints.entries()) {
    packed.writeUInt32BE(hi, i * FINGERPRINT_BYTES);
    packed.writeUInt32BE(lo, i * FINGERPRINT_BYTES + 4);
  }
  return packed;
}

/**
 * The readings earlier runs wrote to one partition, as a multiset of fingerprints (an input may hold the
 * same reading twice, and then both were written): sorted halves, 8 bytes each, so a re-run of millions
 * of readings holds them compactly and searches them with number comparisons. take() consumes one
 * occurrence.
 */
export class WrittenReadings {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly taken: Uint8Array;

  constructor(packed: Buffer[]) {
    const total = packed.reduce((n, b) => n + Math.floor(b.length / FINGERPRINT_BYTES), 0);
    // Sorted as 64-bit numbers (a typed array sorts natively), then split for the search.
    const sorted = new BigUint64Array(total);
    let at = 0;
    for (const buffer of packed) {
      for (let o = 0; o + FINGERPRINT_BYTES <= buffer.length; o += FINGERPRINT_BYTES)
        sorted[at++] = buffer.readBigUInt64BE(o);
    }
    sorted.sort();
    this.hi = new Uint32Array(total);
    this.lo = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      this.hi[i] = Number(sorted[i]! >> 32n);
      this.lo[i] = Number(sorted[i]! & 0xffffffffn);
    }
    this.taken = new Uint8Array(total);
  }

  get size(): number {
    return this.hi.length;
  }

  /** True when an untaken occurrence of `fp` was there (the reading was written before); takes it. */
  take({ hi, lo }: Fingerprint): boolean {
    let low = 0;
    let high = this.hi.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const h = this.hi[mid]!;
      if (h < hi || (h === hi && this.lo[mid]! < lo)) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < this.hi.length && this.hi[i] === hi && this.lo[i] === lo; i++) {
      if (!this.taken[i]) {
        this.taken[i] = 1;
        return true;
      }
    }
    return false;
  }
}
