import {
  type ConsumerBatch,
  fieldsToObject,
  outboxOf,
  type PipelineKeys,
  type Reading,
  type WindowLayout,
  windowName,
  windowOf,
} from '@pipe/streams';
import {
  DEVICE_BYTES,
  type DeviceTotalsCache,
  TOTALS,
  type WindowDeviceTotals,
} from './device-totals-cache.js';
import { checkedEntries } from './partition-entries.js';
import type { AggregatorStateKeys } from './state-keys.js';

export interface AccumulateContext {
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  group: string;
  consumer: string;
  now: number;
  /** How long the partition's `agg` state outlives the partition (see stateAfterPartitionMs). */
  stateAfterPartitionMs: number;
  /** With --per-device: the devices' totals this instance last wrote, sent as a hint (see the cache). */
  deviceTotals?: DeviceTotalsCache;
}

export interface AccumulateCall {
  keys: string[];
  args: (string | number | Buffer)[];
  /** The decoded reading of each entry (undefined for an undecodable one), in entry order. */
  readings: (Reading | undefined)[];
  /** The hash key of each finest window of the call, by the script's 1-based index (its reply names some). */
  finestWindows: string[];
}

/** Readings' figures: count, sums, bounds and first and last event time. */
class Figures {
  n = 0;
  sum = 0;
  sq = 0;
  humidityN = 0;
  humiditySum = 0;
  min: number;
  max: number;
  first: number;
  last: number;

  constructor(first: Reading) {
    this.min = this.max = first.temp_f;
    this.first = this.last = first.ts;
  }

  add(reading: Reading): void {
    const t = reading.temp_f;
    this.n++;
    this.sum += t;
    this.sq += t * t;
    if (t < this.min) this.min = t;
    if (t > this.max) this.max = t;
    if (reading.ts < this.first) this.first = reading.ts;
    if (reading.ts > this.last) this.last = reading.ts;
    if (reading.humidity !== undefined) {
      this.humidityN++;
      this.humiditySum += reading.humidity;
    }
  }

  /**
   * A device's figures as the script stores them: nine little-endian doubles `n sum sq min max f l hn
   * hsum` at byte `offset`. Throws when a sum is not finite, as the script refuses such a window (nothing
   * of the batch is written); the codec's temperature range keeps sums far from overflowing.
   */
  pack(into: DataView, offset: number): void {
    const { sum, sq, humiditySum } = this;
    if (!Number.isFinite(sum) || !Number.isFinite(sq) || !Number.isFinite(humiditySum))
      throw new Error("accumulate-batch: a device's figures are not finite numbers; batch refused whole");
    into.setFloat64(offset, this.n, true);
    into.setFloat64(offset + 8, sum, true);
    into.setFloat64(offset + 16, sq, true);
    into.setFloat64(offset + 24, this.min, true);
    into.setFloat64(offset + 32, this.max, true);
    into.setFloat64(offset + 40, this.first, true);
    into.setFloat64(offset + 48, this.last, true);
    into.setFloat64(offset + 56, this.humidityN, true);
    into.setFloat64(offset + 64, humiditySum, true);
  }

  /** These figures as the totals at `v[at ..]` (n sum sq min max f l hn hsum). */
  copyInto(v: Float64Array, at: number): void {
    v[at] = this.n;
    v[at + 1] = this.sum;
    v[at + 2] = this.sq;
    v[at + 3] = this.min;
    v[at + 4] = this.max;
    v[at + 5] = this.first;
    v[at + 6] = this.last;
    v[at + 7] = this.humidityN;
    v[at + 8] = this.humiditySum;
  }

  /**
   * Merges these figures into the totals at `v[at ..]` (n sum sq min max f l hn hsum), as the script's
   * mergedTotals() does, comparison for comparison: the script compares the bytes.
   */
  mergeInto(v: Float64Array, at: number): void {
    v[at] = this.n + v[at]!;
    v[at + 1] = this.sum + v[at + 1]!;
    v[at + 2] = this.sq + v[at + 2]!;
    v[at + 3] = v[at + 3]! < this.min ? v[at + 3]! : this.min;
    v[at + 4] = v[at + 4]! > this.max ? v[at + 4]! : this.max;
    v[at + 5] = v[at + 5]! < this.first ? v[at + 5]! : this.first;
    v[at + 6] = v[at + 6]! > this.last ? v[at + 6]! : this.last;
    v[at + 7] = this.humidityN + v[at + 7]!;
    v[at + 8] = this.humiditySum + v[at + 8]!;
  }
}

/** Nine doubles of `v` from `at`, little-endian at byte `offset` of `into`. */
function writeTotals(into: DataView, offset: number, v: Float64Array, at: number): void {
  for (let i = 0; i < TOTALS; i++) into.setFloat64(offset + i * 8, v[at + i]!, true);
}

/**
 * With the device totals cache: where a batch writes each device's totals after it
 * (accumulate-batch-n.lua's ARGV[13], at the offsets of ARGV[12]), and the window's totals as the
 * cache holds them, updated as the batch is laid out.
 */
interface ExpectedTotals {
  after: DataView;
  totals: WindowDeviceTotals;
  /** This batch's token for the window (DeviceTotalsCache.nextToken). */
  token: string;
}

/** One finest window's figures over the batch's readings, as accumulate-batch-n.lua takes them. */
class WindowFigures extends Figures {
  /** Each device's 1-based position in the window's device list (the script's recount names it so). */
  readonly devices = new Map<string, number>();
  /** With --per-device, each device's own figures, in the order of the list. */
  private readonly deviceFigures: Figures[] = [];

  /** `hashKeys`: the KEYS index of the window's hash of each size, finest first. */
  constructor(
    first: Reading,
    /** Its finest window's hash key. */
    readonly finestKey: string,
    private readonly hashKeys: number[],
    private readonly perDevice: boolean,
  ) {
    super(first);
  }

  /** Adds a reading; returns its device's position in the window's device list. */
  addReading(reading: Reading): number {
    super.add(reading);
    let position = this.devices.get(reading.device);
    if (position === undefined) {
      position = this.devices.size + 1;
      this.devices.set(reading.device, position);
      if (this.perDevice) this.deviceFigures.push(new Figures(reading));
    }
    if (this.perDevice) this.deviceFigures[position - 1]!.add(reading);
    return position;
  }

  /** With --per-device: where its devices' figures start in the batch's packed figures. */
  private packedAt = 0;

  /** Bytes its devices' packed figures take. */
  get packedBytes(): number {
    return this.deviceFigures.length * DEVICE_BYTES;
  }

  /**
   * With expected totals, what the script checks: the readings the hash counts before the batch and
   * the token of the batch that wrote its devices last; then this batch's token.
   */
  private expects: [n: number, last: string, token: string] | undefined;

  /** Packs its devices' figures at `offset` of `into`; returns the offset past them. */
  packDevices(into: DataView, offset: number, expected?: ExpectedTotals): number {
    this.packedAt = offset;
    this.expects = expected && [expected.totals.n, expected.totals.token, expected.token];
    if (expected) {
      expected.totals.n += this.n;
      expected.totals.token = expected.token;
    }
    let i = 0;
    for (const device of this.devices.keys()) {
      const figures = this.deviceFigures[i++]!;
      figures.pack(into, offset);
      if (expected) {
        const { totals } = expected;
        let at = totals.at(device);
        if (at === undefined) {
          at = totals.add(device);
          figures.copyInto(totals.values, at);
        } else {
          figures.mergeInto(totals.values, at);
        }
        writeTotals(expected.after, offset, totals.values, at);
      }
      offset += DEVICE_BYTES;
    }
    return offset;
  }

  toJSON(): unknown[] {
    const { n, sum, sq, humidityN, humiditySum, min, max, first, last } = this;
    const figures = [n, sum, sq, humidityN, humiditySum, String(min), String(max), first, last];
    const window = [...figures, [...this.devices.keys()], this.hashKeys];
    if (!this.perDevice) return window;
    const { expects } = this;
    return expects ? [...window, this.packedAt, ...expects] : [...window, this.packedAt];
  }
}

/** Bytes of one entry's values for the script's recount (ARGV[7]): `temp_f ts humidity device`. */
const ENTRY_BYTES = 32;

/**
 * Decodes one partition's batch (in one place: the codecs) and lays it out as the arguments of
 * accumulate-batch-n.lua for the day's layout of window sizes. Readings are grouped by their finest
 * window; each group names its window hash of every size (windows nest, so one finest window lies in
 * exactly one window of each size). Undecodable entries travel as dead letters with their reason.
 */
export function accumulateCall(
  batch: ConsumerBatch,
  ctx: AccumulateContext,
  layout: WindowLayout,
): AccumulateCall {
  const { stream, entries } = batch;
  const { state } = ctx;
  const keys = [stream, state.aggHash(stream), outboxOf(stream)];
  for (const size of layout.sizes) keys.push(state.openWindows(stream, size));
  const day = ctx.keys.parsePartitionKey(stream);
  const hashIndex = new Map<string, number>();
  const hashKey = (key: string) => {
    let index = hashIndex.get(key);
    if (index === undefined) {
      keys.push(key);
      index = keys.length; // KEYS are 1-based in Lua
      hashIndex.set(key, index);
    }
    return index;
  };
  const groupIndex = new Map<number, number>();
  const groups: WindowFigures[] = [];
  const ids: string[] = [];
  const groupOf: number[] = [];
  const poison: [number, string, string][] = [];
  const readings: (Reading | undefined)[] = [];
  // Zeros for undecodable entries: the recount reads only the entries of a window.
  const values = Buffer.alloc(entries.length * ENTRY_BYTES);
  let maxts: number | undefined;
  for (const entry of checkedEntries(stream, day, entries)) {
    if ('poison' in entry) {
      ids.push(entry.id);
      groupOf.push(0);
      poison.push([ids.length, entry.poison, JSON.stringify(fieldsToObject(entry.fields))]);
      readings.push(undefined);
      continue;
    }
    const { id, reading } = entry;
    const { start } = windowOf(reading.ts, layout.finest);
    let g = groupIndex.get(start);
    if (g === undefined) {
      const hashes = layout.sizes.map((size) =>
        hashKey(state.window(stream, size, windowOf(reading.ts, size).start)),
      );
      groups.push(new WindowFigures(reading, keys[hashes[0]! - 1]!, hashes, layout.perDevice));
      g = groups.length; // 1-based, as Lua indexes
      groupIndex.set(start, g);
    }
    const at = ids.length * ENTRY_BYTES;
    values.writeDoubleLE(reading.temp_f, at);
    values.writeDoubleLE(reading.ts, at + 8);
    values.writeDoubleLE(reading.humidity ?? Number.NaN, at + 16);
    values.writeDoubleLE(groups[g - 1]!.addReading(reading), at + 24);
    if (maxts === undefined || reading.ts > maxts) maxts = reading.ts;
    ids.push(id);
    groupOf.push(g);
    readings.push(reading);
  }
  let packed: Buffer | string = '';
  let after: Buffer | string = '';
  if (layout.perDevice) {
    const bytes = groups.reduce((total, g) => total + g.packedBytes, 0);
    const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const into = Buffer.allocUnsafe(bytes);
    const intoView = view(into);
    const cache = ctx.deviceTotals;
    const expected = cache && Buffer.alloc(bytes);
    const expectedView = expected && view(expected);
    let offset = 0;
    let anyExpected = false;
    for (const g of groups) {
      const totals = cache?.window(g.finestKey);
      if (totals) anyExpected = true;
      const token = cache?.nextToken() ?? '';
      offset = g.packDevices(
        intoView,
        offset,
        expectedView && totals && { after: expectedView, totals, token },
      );
    }
    packed = into;
    if (expected && anyExpected) after = expected;
  }
  const args = [
    ctx.group,
    ctx.consumer,
    ctx.now,
    maxts ?? '',
    JSON.stringify({ i: ids, k: groupOf, x: poison }),
    JSON.stringify(groups),
    values,
    ctx.keys.late,
    ctx.keys.deadLetters,
    ctx.stateAfterPartitionMs,
    JSON.stringify(layout.sizes.map((size) => [windowName(size), state.sealedField(size)])),
    packed,
    after,
  ];
  return { keys, args, readings, finestWindows: groups.map((g) => g.finestKey) };
}
