import {
  type Decoded,
  decodeAverage,
  decodeDeviceWindow,
  decodeWindowAverage,
  type FieldList,
  type PipelineKeys,
  type WindowSize,
} from '@pipe/streams';
import {
  averageAsJsonLine,
  describeAverage,
  describeDeviceWindow,
  describeWindowAverage,
} from './average-format.js';

/**
 * One results stream the viewer reads by time: the fleet's of a window size or one device's. Its
 * entries' IDs are the windows' starts, so a time range is an ID range. Decoding is the library's
 * codecs; this only says which codec, which key and how a line reads.
 */
export interface ResultSeries<T = unknown> {
  key: string;
  decode: (id: string, fields: FieldList) => Decoded<T>;
  describe: (value: T) => string;
  jsonLine: (value: T) => string;
}

/**
 * The fleet's windows of a size: `temps:averages` with the RU202 decoding for 1h (what `tail` printed
 * before resolutions), `temps:averages:<size>` otherwise.
 */
export function fleetSeries(keys: PipelineKeys, size: WindowSize): ResultSeries {
  if (size.label === '1h') {
    return typed({
      key: keys.averages,
      decode: decodeAverage,
      describe: describeAverage,
      jsonLine: averageAsJsonLine,
    });
  }
  return typed({
    key: keys.averagesFor(size),
    decode: decodeWindowAverage,
    describe: describeWindowAverage,
    jsonLine: (w) => JSON.stringify(w),
  });
}

/** One device's windows of a size (`{temps:device:<device>}:<size>`). */
export function deviceSeries(keys: PipelineKeys, device: string, size: WindowSize): ResultSeries {
  return typed({
    key: keys.deviceWindows(device, size),
    decode: decodeDeviceWindow,
    describe: (w) => describeDeviceWindow(device, size.label, w),
    jsonLine: (w) => JSON.stringify({ device, resolution: size.label, ...w }),
  });
}

/** Erases the value type once the codec and its formatters are known to agree. */
function typed<T>(series: ResultSeries<T>): ResultSeries {
  return series as ResultSeries;
}

/**
 * What `tail --device --resolution` shows, with the name its position is kept under; undefined for
 * the default (the hourly averages, whose position keeps its key from before resolutions).
 */
export function tailSeries(
  keys: PipelineKeys,
  device: string | undefined,
  size: WindowSize,
): { results: ResultSeries; name: string } | undefined {
  if (device !== undefined)
    return { results: deviceSeries(keys, device, size), name: `device:${device}:${size.label}` };
  if (size.label === '1h') return undefined;
  return { results: fleetSeries(keys, size), name: `averages:${size.label}` };
}
