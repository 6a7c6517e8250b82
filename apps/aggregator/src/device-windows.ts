import {
  calculateSlot,
  connectionEpoch,
  type DeviceWindow,
  type Durability,
  encodeDeviceWindow,
  isCluster,
  type PipelineKeys,
  type RedisClient,
  waitForReplicas,
  type WindowSize,
} from '@pipe/streams';
import { DEVICE_BYTES, TOTALS } from './device-totals-cache.js';
import type { PartitionTotals } from './hour-totals.js';
import type { AggregatorScripts } from './scripts.js';

/** One device's totals of a window, from the packed `d:<device>` fields (accumulate-batch-n.lua). */
interface DeviceTotals {
  n: number;
  sum: number;
  sq: number;
  min: number;
  max: number;
  first: number;
  last: number;
  humidityN: number;
  humiditySum: number;
}

/** Reads a device's packed totals: nine doubles, copied here first (see unpack). */
const scratch = Buffer.alloc(DEVICE_BYTES);

/**
 * A device's `d:<device>` totals as seal-window-n.lua answers them: nine little-endian doubles `n sum
 * sq min max f l hn hsum` as a latin1 string (a double of a small whole count starts with a zero byte),
 * or the nine numbers as text (an earlier version's); undefined for `1` (no --per-device).
 */
function unpack(packed: string): DeviceTotals | undefined {
  let p: number[];
  if (packed.charCodeAt(0) === 0 && packed.length === scratch.length) {
    scratch.write(packed, 'latin1');
    p = Array.from({ length: TOTALS }, (_, i) => scratch.readDoubleLE(i * 8));
  } else {
    p = packed.split(' ').map(Number);
  }
  if (p.length !== TOTALS || p.some((x) => !Number.isFinite(x))) return undefined;
  const [n, sum, sq, min, max, first, last, humidityN, humiditySum] = p as number[];
  return { n, sum, sq, min, max, first, last, humidityN, humiditySum } as DeviceTotals;
}

/**
 * Every device's result of a window, merged over the partitions whose totals the fleet entry holds (a
 * device that wrote to two shards of a re-sharded day counts once, with both shards' readings). Settled
 * totals have no device fields left: their devices are not made again (see the README's known gaps).
 */
export function deviceWindowsOf(parts: PartitionTotals[], start: number): Map<string, DeviceWindow> {
  const totals = new Map<string, DeviceTotals>();
  for (const { hash } of parts) {
    for (let i = 0; i < hash.length; i += 2) {
      if (!hash[i]!.startsWith('d:')) continue;
      const d = unpack(hash[i + 1]!);
      if (!d) continue;
      const device = hash[i]!.slice(2);
      const t = totals.get(device);
      if (!t) {
        totals.set(device, d);
        continue;
      }
      t.n += d.n;
      t.sum += d.sum;
      t.sq += d.sq;
      t.min = Math.min(t.min, d.min);
      t.max = Math.max(t.max, d.max);
      t.first = Math.min(t.first, d.first);
      t.last = Math.max(t.last, d.last);
      t.humidityN += d.humidityN;
      t.humiditySum += d.humiditySum;
    }
  }
  const windows = new Map<string, DeviceWindow>();
  for (const [device, t] of totals) {
    const mean = t.sum / t.n;
    windows.set(device, {
      start,
      count: t.n,
      mean,
      min: t.min,
      max: t.max,
      // Population: sqrt(sq/n - mean²), never below 0 (equal readings can round to a tiny negative).
      stddev: Math.sqrt(Math.max(0, t.sq / t.n - mean * mean)),
      first_ts: t.first,
      last_ts: t.last,
      ...(t.humidityN > 0 ? { average_humidity: t.humiditySum / t.humidityN } : {}),
    });
  }
  return windows;
}

export interface DevicePublication {
  redis: RedisClient;
  scripts: AggregatorScripts;
  keys: PipelineKeys;
  /** How long the size's per-device results are kept (--keep), ms. */
  keepMs: number;
  /** Devices last seen this long before a window's start leave the index: the longest keep. */
  indexKeepMs: number;
  durability: Durability;
}

export interface DevicesPublished {
  published: number;
  already: number;
  superseded: number;
}

/**
 * Devices per publish-device-windows call: bounds the script's run (Redis answers nobody else meanwhile)
 * and the reply; a call per device cost more than the writes themselves.
 */
const DEVICES_PER_CALL = 500;
/** Calls in flight at once: bounds the requests held, not the rate (ioredis pipelines them). */
const CALLS_AT_ONCE = 20;

/**
 * The devices' stream keys of a size in groups that one script call may write: on a cluster, the keys
 * of one slot (a script must not span slots); on one server, any. Each group holds at most `limit`.
 */
export function deviceKeyGroups(keys: string[], cluster: boolean, limit: number): number[][] {
  const bySlot = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = cluster ? calculateSlot(key) : 0;
    const group = bySlot.get(slot);
    if (group) group.push(i);
    else bySlot.set(slot, [i]);
  });
  const groups: number[][] = [];
  for (const group of bySlot.values())
    for (let from = 0; from < group.length; from += limit) groups.push(group.slice(from, from + limit));
  return groups;
}

const OUTCOMES = { 1: 'published', 0: 'already', [-1]: 'superseded' } as const;

/**
 * Writes each device's result of a sealed window to its stream of the size, many devices per script
 * call (publish-device-windows-n.lua; on a cluster, one call per slot's devices), then updates the
 * devices index. Resolves only when every call answered (and, with --wait-replicas, the masters'
 * replicas hold them): the caller settles the partitions after it, so a crash before repeats the calls,
 * and the done devices answer `already`.
 */
export async function publishDeviceWindows(
  o: DevicePublication,
  size: WindowSize,
  start: number,
  windows: Map<string, DeviceWindow>,
): Promise<DevicesPublished> {
  const counts: DevicesPublished = { published: 0, already: 0, superseded: 0 };
  const devices = [...windows.entries()];
  if (devices.length === 0) return counts;
  const writtenSince = connectionEpoch(o.redis);
  const keys = devices.map(([device]) => o.keys.deviceWindows(device, size));
  const calls = deviceKeyGroups(keys, isCluster(o.redis), DEVICES_PER_CALL).map((group) => () => {
    const args: (string | number)[] = [start, o.keepMs, o.keepMs + size.ms];
    for (const i of group) {
      const fields = encodeDeviceWindow(devices[i]![1]);
      args.push(fields.length, ...fields);
    }
    return o.scripts.publishDeviceWindows(
      group.map((i) => keys[i]!),
      args,
    );
  });
  for (let from = 0; from < calls.length; from += CALLS_AT_ONCE) {
    const replies = await Promise.all(calls.slice(from, from + CALLS_AT_ONCE).map((call) => call()));
    for (const outcomes of replies) for (const outcome of outcomes) counts[OUTCOMES[outcome]]++;
  }
  await waitForDeviceReplicas(
    o,
    size,
    devices.map(([device]) => device),
    writtenSince,
  );
  const latest = (w: DeviceWindow) =>
    size.label === '1h'
      ? JSON.stringify({
          start: w.start,
          count: w.count,
          mean: w.mean,
          stddev: w.stddev,
          min: w.min,
          max: w.max,
        })
      : '';
  await o.scripts.indexDevices(
    [o.keys.devicesIndex, o.keys.devicesLatest],
    [
      start - o.indexKeepMs,
      start,
      JSON.stringify(devices.map(([device, w]) => [device, w.last_ts, latest(w)])),
    ],
  );
  return counts;
}

/** With --wait-replicas: one WAIT on each master that holds a device key just written. */
async function waitForDeviceReplicas(
  o: DevicePublication,
  size: WindowSize,
  devices: string[],
  since: number | undefined,
): Promise<void> {
  if (o.durability.replicas <= 0) return;
  const byMaster = new Map<string, string>();
  for (const device of devices) {
    const key = o.keys.deviceWindows(device, size);
    const master = isCluster(o.redis) ? String(o.redis.slots[calculateSlot(key)]?.[0]) : '';
    if (!byMaster.has(master)) byMaster.set(master, key);
  }
  await Promise.all([...byMaster.values()].map((key) => waitForReplicas(o.redis, key, o.durability, since)));
}
