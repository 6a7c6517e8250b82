import {
  type DeviceLatestHour,
  type DeviceWindow,
  decodeDeviceWindow,
  deviceLastSeen,
  listDevices,
  type Logger,
  type PipelineKeys,
  type RedisClient,
  type StreamEntry,
  type WindowLabel,
} from '@pipe/streams';
import { type DecodedRow, decodeEntries, type MalformedTally } from './average-entries.js';
import { AveragesRange } from './averages-range.js';
import { NotFound, parseAveragesQuery, parseDeviceListQuery, parseResolution } from './averages-query.js';
import { deviceSeries } from './series.js';

/** A device as /api/devices lists it. */
export interface DeviceJson {
  device: string;
  /** Event time (ms) of its newest counted reading. */
  last_ts: number;
  /** Its latest 1-hour result (`mean`, `stddev`, …), null before its first hour is published. */
  latest_hour: DeviceLatestHour | null;
}

/** What /api/devices answers: the devices matching `q`, most recently seen first, at most `limit`. */
export interface DevicesAnswer {
  /** Devices in the index matching `q` (all of them without one); `devices` holds up to `limit`. */
  matched: number;
  devices: DeviceJson[];
}

/** What /api/devices/<device>/averages answers (the contract of issue #16). */
export interface DeviceAveragesAnswer {
  device: string;
  resolution: WindowLabel;
  averages: DeviceWindow[];
}

/** A device's window as its event stream carries it. */
export type DeviceWindowEvent = DeviceWindow & { id: string; device: string; resolution: WindowLabel };

export interface DevicesApiOptions {
  redis: RedisClient;
  keys: PipelineKeys;
  /** Runs a read with the server's outage rules (503 while Redis is down, a deadline). */
  read: <T>(read: () => Promise<T>) => Promise<T>;
  malformed: MalformedTally;
  maxDevices: number;
  maxAverages: number;
  logger: Logger;
}

/**
 * The per-device routes of the dashboard: the devices index (`--per-device`) and one device's windows
 * of a size, read by ID range from its own stream (O(log n + k), one cluster slot).
 */
export class DevicesApi {
  constructor(private readonly o: DevicesApiOptions) {}

  /** `/api/devices?q=&limit=`. */
  async list(params: URLSearchParams): Promise<DevicesAnswer> {
    const query = parseDeviceListQuery(params, this.o.maxDevices);
    const found = await this.o.read(() => listDevices(this.o.redis, this.o.keys, query));
    for (const device of found.malformed) this.o.logger.debug({ device }, 'skipped malformed latest hour');
    return {
      matched: found.matched,
      devices: found.devices.map((d) => ({
        device: d.device,
        last_ts: d.lastTs,
        latest_hour: d.latestHour ?? null,
      })),
    };
  }

  /** `/api/devices/<device>/averages?resolution=&from=&to=&limit=`: oldest first, the newest `limit`. */
  async averages(device: string, params: URLSearchParams): Promise<DeviceAveragesAnswer> {
    const size = parseResolution(params);
    const { fromMs, toMs, limit } = parseAveragesQuery(params, this.o.maxAverages);
    const series = deviceSeries(this.o.keys, device, size);
    const entries = await this.o.read(() =>
      new AveragesRange(this.o.redis, series.key).between(fromMs, toMs, limit),
    );
    if (entries.length === 0) {
      const known = await this.o.read(() => deviceLastSeen(this.o.redis, this.o.keys, device));
      if (known === undefined)
        throw new NotFound(`no such device: ${device} (not in ${this.o.keys.devicesIndex})`);
    }
    return { device, resolution: size.label, averages: this.decodeRows(entries).map(({ value }) => value) };
  }

  /** Decoded windows of a device stream; malformed entries are counted once each and left out. */
  decodeRows(entries: StreamEntry[]): DecodedRow<DeviceWindow>[] {
    const { rows, malformed } = decodeEntries(entries, decodeDeviceWindow);
    this.o.malformed.record(malformed);
    for (const { id, reason } of malformed)
      this.o.logger.debug({ id, reason }, 'skipped malformed device window');
    return rows;
  }
}
