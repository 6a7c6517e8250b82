/** Doubles of one device's packed totals: `n sum sq min max f l hn hsum` (accumulate-batch-n.lua). */
export const TOTALS = 9;

/** Each device's totals of one window, nine doubles per device in one array. */
export class WindowDeviceTotals {
  private readonly slots = new Map<string, number>();
  values = new Float64Array(TOTALS * 64);
  /** Readings the window's hash counts (its `n`) once the batches laid out so far are counted. */
  n = 0;

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
 * script stores them as they are when the window's hash counts the readings this instance expects
 * (every write of a device's totals adds its readings to the hash's `n`), instead of reading, unpacking,
 * merging and packing each device's totals in Lua. Only a hint: whatever differs (another instance or a
 * redelivery counted into the window, a restart, a batch that failed) takes the script's own merge,
 * and the script names the windows where that happened so that this instance stops guessing for them.
 */
export class DeviceTotalsCache {
  /** By window hash key, oldest first; `unknown`: the hash holds totals this instance cannot tell. */
  private readonly windows = new Map<string, WindowDeviceTotals | 'unknown'>();

  /**
   * The oldest windows go first beyond `maxWindows` windows (a partition's batches write its one or two
   * newest finest windows) or `maxDevices` devices over all (about 130 B each: a few tens of MB).
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
    if (known) return known;
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

  /** The script found totals other than this instance's in the window: its own merge decides there. */
  forget(key: string): void {
    this.windows.set(key, 'unknown');
  }

  /** A batch whose outcome is unknown (its call failed): every window may hold what this cannot tell. */
  clear(): void {
    this.windows.clear();
  }
}
