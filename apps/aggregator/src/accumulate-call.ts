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
}

export interface AccumulateCall {
  keys: string[];
  args: (string | number | Buffer)[];
  /** The decoded reading of each entry (undefined for an undecodable one), in entry order. */
  readings: (Reading | undefined)[];
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
   * hsum` at `offset`. Throws when a sum is not finite, as the script refuses such a window (nothing
   * of the batch is written); the codec's temperature range keeps sums far from overflowing.
   */
  pack(into: Buffer, offset: number): void {
    const { n, sum, sq, min, max, first, last, humidityN, humiditySum } = this;
    if (!Number.isFinite(sum) || !Number.isFinite(sq) || !Number.isFinite(humiditySum))
      throw new Error("accumulate-batch: a device's figures are not finite numbers; batch refused whole");
    const figures = [n, sum, sq, min, max, first, last, humidityN, humiditySum];
    for (let i = 0; i < DEVICE_BYTES / 8; i++) into.writeDoubleLE(figures[i]!, offset + i * 8);
  }
}

/** Bytes of one device's packed figures (accumulate-batch-n.lua's ARGV[12]). */
const DEVICE_BYTES = 72;

/** One finest window's figures over the batch's readings, as accumulate-batch-n.lua takes them. */
class WindowFigures extends Figures {
  /** Each device's own figures with --per-device; else only its name (null). */
  readonly devices = new Map<string, Figures | null>();

  /** `hashKeys`: the KEYS index of the window's hash of each size, finest first. */
  constructor(
    first: Reading,
    private readonly hashKeys: number[],
    private readonly perDevice: boolean,
  ) {
    super(first);
  }

  override add(reading: Reading): void {
    super.add(reading);
    let device = this.devices.get(reading.device);
    if (device === undefined) {
      device = this.perDevice ? new Figures(reading) : null;
      this.devices.set(reading.device, device);
    }
    device?.add(reading);
  }

  /** With --per-device: where its devices' figures start in the batch's packed figures. */
  private packedAt = 0;

  /** Packs its devices' figures at `offset` of `into`; returns the offset past them. */
  packDevices(into: Buffer, offset: number): number {
    this.packedAt = offset;
    for (const figures of this.devices.values()) {
      figures!.pack(into, offset);
      offset += DEVICE_BYTES;
    }
    return offset;
  }

  toJSON(): unknown[] {
    const { n, sum, sq, humidityN, humiditySum, min, max, first, last } = this;
    const figures = [n, sum, sq, humidityN, humiditySum, String(min), String(max), first, last];
    const window = [...figures, [...this.devices.keys()], this.hashKeys];
    return this.perDevice ? [...window, this.packedAt] : window;
  }
}

/** Longer texts (a thousand digits is still a valid number) travel as the number's shortest text. */
const MAX_TEXT = 24;

/**
 * A reading's temperature as the script's recount reads it (tonumber): the entry's own text when it is a
 * bare number, which Lua reads exactly as the codec did, else the number's shortest text. Turning each
 * number back into text cost more than the rest of the batch's layout.
 */
export function temperatureText(fields: string[], temp: number): string {
  // The last temp_f field, as the codec takes the last (of whole pairs: a trailing odd field is ignored).
  for (let i = fields.length - 2 - (fields.length % 2); i >= 0; i -= 2) {
    if (fields[i] === 'temp_f') {
      const text = fields[i + 1]!;
      return text.length <= MAX_TEXT && text.trim() === text ? text : String(temp);
    }
  }
  return String(temp);
}

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
  const temps: string[] = [];
  const devices: string[] = [];
  const humidity: (number | false)[] = [];
  const times: number[] = [];
  const readings: (Reading | undefined)[] = [];
  let maxts: number | undefined;
  const deadLetter = (id: string, reason: string, fields: string[]) => {
    ids.push(id);
    groupOf.push(0);
    temps.push('0');
    devices.push('');
    humidity.push(false);
    times.push(0);
    poison.push([ids.length, reason, JSON.stringify(fieldsToObject(fields))]);
    readings.push(undefined);
  };
  for (const entry of checkedEntries(stream, day, entries)) {
    if ('poison' in entry) {
      deadLetter(entry.id, entry.poison, entry.fields);
      continue;
    }
    const { id, fields, reading } = entry;
    const { start } = windowOf(reading.ts, layout.finest);
    let g = groupIndex.get(start);
    if (g === undefined) {
      const hashes = layout.sizes.map((size) =>
        hashKey(state.window(stream, size, windowOf(reading.ts, size).start)),
      );
      groups.push(new WindowFigures(reading, hashes, layout.perDevice));
      g = groups.length; // 1-based, as Lua indexes
      groupIndex.set(start, g);
    }
    groups[g - 1]!.add(reading);
    if (maxts === undefined || reading.ts > maxts) maxts = reading.ts;
    ids.push(id);
    groupOf.push(g);
    temps.push(temperatureText(fields, reading.temp_f));
    devices.push(reading.device);
    humidity.push(reading.humidity ?? false);
    times.push(reading.ts);
    readings.push(reading);
  }
  let packed: Buffer | string = '';
  if (layout.perDevice) {
    packed = Buffer.allocUnsafe(groups.reduce((bytes, g) => bytes + g.devices.size * DEVICE_BYTES, 0));
    let offset = 0;
    for (const g of groups) offset = g.packDevices(packed, offset);
  }
  const args = [
    ctx.group,
    ctx.consumer,
    ctx.now,
    maxts ?? '',
    JSON.stringify({ i: ids, k: groupOf, x: poison }),
    JSON.stringify(groups),
    JSON.stringify({ t: temps, h: humidity, d: devices, s: times }),
    ctx.keys.late,
    ctx.keys.deadLetters,
    ctx.stateAfterPartitionMs,
    JSON.stringify(layout.sizes.map((size) => [windowName(size), state.sealedField(size)])),
    packed,
  ];
  return { keys, args, readings };
}
