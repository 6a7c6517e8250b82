/** One partition's totals of an hour, as seal-hour-4.lua returns them (HGETALL of the hour's hash). */
export interface PartitionTotals {
  partition: string;
  /** Flat field/value list: n, sum, min, max, hn, hsum, devices, d:<device>... */
  hash: string[];
}

/** The hour's figures summed over the partitions (the shards of its day) that hold readings of it. */
export interface HourTotals {
  n: number;
  sum: number;
  humidityN: number;
  humiditySum: number;
  /** Bounds as the readings wrote them (a parsed number would lose the reading's own digits). */
  min: string;
  max: string;
  devices: number;
  /** The partitions that contributed. */
  sources: string[];
}

/** Sums the partitions' totals; undefined when none holds a reading of the hour. */
export function sumHourTotals(parts: PartitionTotals[]): HourTotals | undefined {
  let totals: HourTotals | undefined;
  // A device writes to one shard, but a re-sharded day could see it in two: count it once.
  const devices = new Set<string>();
  for (const { partition, hash } of parts) {
    const h = new Map<string, string>();
    for (let i = 0; i < hash.length; i += 2) {
      if (hash[i]!.startsWith('d:')) devices.add(hash[i]!.slice(2));
      else h.set(hash[i]!, hash[i + 1]!);
    }
    const n = Number(h.get('n') ?? 0);
    if (n === 0) continue;
    const min = h.get('min')!;
    const max = h.get('max')!;
    totals ??= { n: 0, sum: 0, humidityN: 0, humiditySum: 0, min, max, devices: 0, sources: [] };
    totals.n += n;
    totals.sum += Number(h.get('sum'));
    totals.humidityN += Number(h.get('hn') ?? 0);
    totals.humiditySum += Number(h.get('hsum') ?? 0);
    if (Number(min) < Number(totals.min)) totals.min = min;
    if (Number(max) > Number(totals.max)) totals.max = max;
    totals.sources.push(partition);
  }
  if (totals) totals.devices = devices.size;
  return totals;
}

/**
 * The averages entry (RU202 layout plus min, max, devices and humidity). JavaScript's number to string
 * is the shortest text that reads back as the same double, so the mean is exact, not truncated.
 */
export function averageEntryFields(totals: HourTotals, date: string, hour: number): string[] {
  const fields = [
    'date',
    date,
    'hour',
    String(hour),
    'average_temp_f',
    String(totals.sum / totals.n),
    'num_observations',
    String(totals.n),
    'min_temp_f',
    totals.min,
    'max_temp_f',
    totals.max,
    'devices',
    String(totals.devices),
  ];
  if (totals.humidityN > 0) fields.push('average_humidity', String(totals.humiditySum / totals.humidityN));
  return fields;
}
