import { decodeDeviceLatestHour } from './codecs.js';
import type { PipelineKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import { DEVICE_PATTERN, type DeviceLatestHour } from './schemas.js';

/** One device of the devices index: its last reading time and, once it had one, its latest hour. */
export interface DeviceSummary {
  device: string;
  /** Event time (ms) of the device's newest counted reading. */
  lastTs: number;
  latestHour?: DeviceLatestHour;
}

export interface DeviceListOptions {
  /** Only devices whose name holds this text, case-insensitively (device-name characters only). */
  contains?: string;
  /** At most this many, most recently seen first. */
  limit: number;
}

export interface DeviceList {
  /** Devices in the index that match (all of them without `contains`). */
  matched: number;
  devices: DeviceSummary[];
  /** Devices whose latest hour did not decode, left without one. */
  malformed: string[];
}

/** What `contains` may hold: the characters of a device name, so it can never be a glob of its own. */
export function isDeviceSearch(text: string): boolean {
  return DEVICE_PATTERN.test(text);
}

/** `*<text>*` matching either case of each letter (SCAN MATCH is case-sensitive). */
function containsGlob(text: string): string {
  const letters = [...text].map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c));
  return `*${letters.join('')}*`;
}

/**
 * The devices index (`temps:devices`, `{temps:devices}:latest`: one slot), most recently seen first:
 * ZREVRANGE for the newest `limit`, or a ZSCAN of the whole index for a search (a fleet of 10,000
 * devices is a few hundred kB to scan), then one HMGET of their latest hours.
 */
export async function listDevices(
  redis: RedisClient,
  keys: PipelineKeys,
  { contains, limit }: DeviceListOptions,
): Promise<DeviceList> {
  let found: [string, number][];
  let matched: number;
  if (contains === undefined || contains === '') {
    const flat = await redis.zrevrange(keys.devicesIndex, 0, limit - 1, 'WITHSCORES');
    found = pairsOf(flat);
    matched = await redis.zcard(keys.devicesIndex);
  } else {
    if (!isDeviceSearch(contains)) throw new RangeError(`not a device name search: ${contains}`);
    const all: [string, number][] = [];
    let cursor = '0';
    do {
      const [next, flat] = await redis.zscan(
        keys.devicesIndex,
        cursor,
        'MATCH',
        containsGlob(contains),
        'COUNT',
        1000,
      );
      all.push(...pairsOf(flat));
      cursor = next;
    } while (cursor !== '0');
    // ZSCAN may return a member twice (a rehash during the scan).
    const unique = [...new Map(all)];
    unique.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    matched = unique.length;
    found = unique.slice(0, limit);
  }
  const latest = found.length === 0 ? [] : await redis.hmget(keys.devicesLatest, ...found.map(([d]) => d));
  const malformed: string[] = [];
  const devices = found.map(([device, lastTs], i): DeviceSummary => {
    const json = latest[i];
    if (json === null || json === undefined) return { device, lastTs };
    const decoded = decodeDeviceLatestHour(json);
    if (decoded.ok) return { device, lastTs, latestHour: decoded.value };
    malformed.push(device);
    return { device, lastTs };
  });
  return { matched, devices, malformed };
}

/** A device's last reading time from the index, or undefined when the index does not hold it. */
export async function deviceLastSeen(
  redis: RedisClient,
  keys: PipelineKeys,
  device: string,
): Promise<number | undefined> {
  const score = await redis.zscore(keys.devicesIndex, device);
  return score === null ? undefined : Number(score);
}

function pairsOf(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}
