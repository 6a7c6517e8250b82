import { type HourlyAverage, hourLabel, type WindowAverage, type WindowSize } from '@pipe/streams';

/** One partition's totals of an hour, as seal-window-n.lua returns them (HGETALL of the hour's hash). */
export interface PartitionTotals {
  partition: string;
  /**
   * Flat field/value list: n, sum, min, max, hn, hsum, devices, d:<device>... (and, as counting left
   * them, sq, f, l, dv, settled; see accumulate-batch-n.lua)
   */
  hash: string[];
}

/** The hour's figures summed over the partitions (the shards of its day) that hold readings of it. */
export interface HourTotals {
  n: number;
  sum: number;
  humidityN: number;
  humiditySum: number;
  /** Bounds as the hour's hash holds them (the reading's own text). */
  min: string;
  max: string;
  devices: number;
  /**
   * Layouts of several sizes only (their window hashes carry `sq`, `f`, `l`): the sum of squares and
   * the first and last event times; 0 and undefined for a 1h-only hash, which has none.
   */
  sq: number;
  first?: number;
  last?: number;
  /** The partitions that contributed. */
  sources: string[];
}

/** Sums the partitions' totals; undefined when none holds a reading of the hour. */
export function sumHourTotals(parts: PartitionTotals[]): HourTotals | undefined {
  let totals: HourTotals | undefined;
  // A device writes to one shard, but a re-sharded day could see it in two: count it once.
  const devices = new Set<string>();
  // Settled totals (see settle-window-n.lua) keep their device count without the devices: an hour made
  // again from them counts a device that wrote to two shards of a day (a re-sharded day) twice. Its
  // readings, mean, min and max are exact.
  let settledDevices = 0;
  for (const { partition, hash } of parts) {
    const h = new Map<string, string>();
    let listed = false;
    for (let i = 0; i < hash.length; i += 2) {
      if (hash[i]!.startsWith('d:')) {
        devices.add(hash[i]!.slice(2));
        listed = true;
      } else h.set(hash[i]!, hash[i + 1]!);
    }
    if (!listed) settledDevices += Number(h.get('devices') ?? 0);
    const n = Number(h.get('n') ?? 0);
    if (n === 0) continue;
    const min = h.get('min')!;
    const max = h.get('max')!;
    totals ??= { n: 0, sum: 0, humidityN: 0, humiditySum: 0, min, max, devices: 0, sq: 0, sources: [] };
    totals.n += n;
    totals.sum += Number(h.get('sum'));
    totals.humidityN += Number(h.get('hn') ?? 0);
    totals.humiditySum += Number(h.get('hsum') ?? 0);
    totals.sq += Number(h.get('sq') ?? 0);
    const [first, last] = [h.get('f'), h.get('l')];
    if (first !== undefined && (totals.first === undefined || Number(first) < totals.first))
      totals.first = Number(first);
    if (last !== undefined && (totals.last === undefined || Number(last) > totals.last))
      totals.last = Number(last);
    if (Number(min) < Number(totals.min)) totals.min = min;
    if (Number(max) > Number(totals.max)) totals.max = max;
    totals.sources.push(partition);
  }
  if (totals) totals.devices = devices.size + settledDevices;
  return totals;
}

/**
 * The hour's average as the library's codec writes it (encodeAverage). The mean is the exact quotient:
 * JavaScript's number to string is the shortest text that reads back as the same double.
 */
export function averageOf(totals: HourTotals, hourStart: number): HourlyAverage {
  const { date, hour } = hourLabel(hourStart);
  return {
    hourStart,
    date,
    hour,
    average_temp_f: totals.sum / totals.n,
    num_observations: totals.n,
    min_temp_f: Number(totals.min),
    max_temp_f: Number(totals.max),
    devices: totals.devices,
    average_humidity: totals.humidityN > 0 ? totals.humiditySum / totals.humidityN : undefined,
  };
}

/**
 * Population standard deviation from the sums: sqrt(sq/n - mean²), never below 0 (the subtraction of
 * two nearly equal sums can round to a tiny negative for readings that are all the same).
 */
export function stddevOf(totals: Pick<HourTotals, 'n' | 'sum' | 'sq'>): number {
  const mean = totals.sum / totals.n;
  return Math.sqrt(Math.max(0, totals.sq / totals.n - mean * mean));
}

/** A window's result of any size as encodeWindowAverage writes it (layouts of several sizes). */
export function windowAverageOf(totals: HourTotals, start: number, size: WindowSize): WindowAverage {
  const { hourStart: _, ...average } = averageOf(totals, start);
  return {
    ...average,
    start,
    size: size.label,
    min_temp_f: Number(totals.min),
    max_temp_f: Number(totals.max),
    devices: totals.devices,
    stddev_temp_f: stddevOf(totals),
    first_ts: totals.first ?? start,
    last_ts: totals.last ?? start,
  };
}
