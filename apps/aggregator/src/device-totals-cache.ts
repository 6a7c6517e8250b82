import { randomBytes } from 'node:crypto';

/** Doubles of one device's packed totals: `n sum sq min max f l hn hsum` (accumulate-batch-n.lua). */
export const TOTALS = 9;
/** Bytes of one device's packed totals (little-endian doubles). */
export const DEVICE_BYTES = TOTALS * 8;

/** Each device's totals of one window, nine doubles per device in one array. */
export class WindowDeviceTotals {
  private readonly slots = new Map<string, number>();
  values = new Float64Array(TOTALS * 64);
  /** Readings the window's hash counts (its `n`) once the batches laid out so far are counted. */
  n = 0;
  /** The token of the last batch laid out for the window ('' before the first): see DeviceTotalsCache. */
  token = '';

  /** Devices held. */
  get size(): number {
    return this.slots.size;
  }

  /** The index in `values` of the device's totals; undefined for a device the window lacks. */
  at(device: string): number | undefined {
    return this.slots.get(device);
  }

  /** Adds a device; returns the index in `values` where its totals go. */
  add(device: string): number {
    const at = this.slots.size * TOTALS;
    if (at + TOTALS > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.slots.set(device, at);
    return at;
  }
}

/**
 * Each device's totals of the finest windows this instance is counting, as it wrote them with
 * accumulate-batch-n.lua: with them a batch sends each device's totals after the batch, and the
 * script stores them as they are, instead of reading, unpacking, merging and packing each device's
 * totals in Lua, when the window's hash is as this instance left it:
 * - its `dv` is the token of this instance's previous batch for the window, which the script stored
 *   with that batch's totals (a merge stores `-`): no other batch wrote device totals since, nor did
 *   that one run after this one (a redirect on a cluster can reorder calls);
 * - and its `n` is the count of readings this instance expects: a script of an earlier version, which
 *   knows no `dv`, adds to `n` whenever it writes device totals.
 * Only a hint: whatever differs (another instance or a redelivery counted into the window, a restart, a
 * batch that failed or was laid out and never sent) takes the script's own merge, and the script names the windows where that
 * happened so that this instance stops guessing for them.
 */
export class DeviceTotalsCache {
  /** Tells this instance's tokens from any other's, also after a restart under the same consumer name. */
  private readonly instance = randomBytes(6).toString('hex');
  private batches = 0;

  /** A token no other batch has: `<instance>:<n>`. */
  nextToken(): string {
    return `${this.instance}:${++this.batches}`;
  }

  /** By window hash key, oldest first; `unknown`: the hash holds totals this instance cannot tell. */
  private readonly windows = new Map<string, WindowDeviceTotals | 'unknown'>();

  /**
   * The oldest windows go first beyond `maxWindows` windows (a partition's batches write its one or two
   * newest finest windows) or `maxDevices` devices over all (about 130 B each: a few tens of MB); a
   * window that alone holds more is given up.
   */
  constructor(
    private readonly maxWindows = 16,
    private readonly maxDevices = 250_000,
  ) {}

  /**
   * The devices' totals of a window as this instance last wrote them (a window it never wrote: none),
   * for the caller to update as it lays out a batch; undefined when it cannot say.
   */
  window(key: string): WindowDeviceTotals | undefined {
    const known = this.windows.get(key);
    if (known === 'unknown') return undefined;
    if (known) {
      // One window of more devices than the bound is not worth its memory: the script merges there.
      if (known.size <= this.maxDevices) return known;
      this.forget(key);
      return undefined;
    }
    const fresh = new WindowDeviceTotals();
    this.windows.set(key, fresh);
    let devices = 0;
    for (const w of this.windows.values()) if (w !== 'unknown') devices += w.size;
    for (const [oldest, w] of this.windows) {
      if (oldest === key || (this.windows.size <= this.maxWindows && devices <= this.maxDevices)) break;
      if (w !== 'unknown') devices -= w.size;
      this.windows.delete(oldest);
    }
    return fresh;
  }

  /**
   * The script did not store this instance's totals in the window (it merged, or wrote nothing): its
   * own merge decides there from now on.
   */
  forget(key: string): void {
    this.windows.set(key, 'unknown');
  }
}
