import {
  DEVICE_PATTERN,
  HOUR_WINDOW,
  isDeviceSearch,
  PipeError,
  parseWindowSize,
  type WindowSize,
} from '@pipe/streams';
import { parseTimeBound, TIME_BOUND_EXPECTED } from './time-bound.js';

/** A request the API cannot answer as asked; the message says which parameter and why. */
export class BadRequest extends PipeError {
  override readonly name = 'BadRequest';
  constructor(message: string) {
    super(message, 'BAD_REQUEST');
  }
}

/** A request for something Redis does not hold (an unknown device). */
export class NotFound extends PipeError {
  override readonly name = 'NotFound';
  constructor(message: string) {
    super(message, 'NOT_FOUND');
  }
}

export interface AveragesQuery {
  fromMs?: number;
  toMs?: number;
  limit: number;
}

/** `?from=&to=&limit=` of /api/averages: bounds ISO 8601 (UTC unless zoned) or epoch ms, both optional. */
export function parseAveragesQuery(params: URLSearchParams, maxLimit: number): AveragesQuery {
  const problems: string[] = [];
  const bound = (name: string) => {
    const text = params.get(name);
    if (text === null || text === '') return undefined;
    const ms = parseTimeBound(text);
    if (ms === undefined) problems.push(`${name}: not ${TIME_BOUND_EXPECTED}: ${text}`);
    return ms;
  };
  const fromMs = bound('from');
  const toMs = bound('to');
  const limit = parseLimit(params.get('limit'), maxLimit, problems);
  if (problems.length > 0) throw new BadRequest(problems.join('; '));
  return { fromMs, toMs, limit };
}

/** `?resolution=1m|1h|…`: a window size the aggregator publishes; `1h` when absent. */
export function parseResolution(params: URLSearchParams): WindowSize {
  const text = params.get('resolution');
  if (text === null || text === '') return HOUR_WINDOW;
  try {
    return parseWindowSize(text);
  } catch (err) {
    throw new BadRequest(`resolution: ${(err as Error).message}`);
  }
}

export interface DeviceListQuery {
  contains?: string;
  limit: number;
}

/** Devices per answer when the picker does not say: a page of a list, not the fleet. */
export const DEFAULT_DEVICES = 100;

/** `?q=&limit=` of /api/devices: a search within device names (their characters only), never unbounded. */
export function parseDeviceListQuery(params: URLSearchParams, maxLimit: number): DeviceListQuery {
  const problems: string[] = [];
  const q = params.get('q') ?? '';
  if (q !== '' && !isDeviceSearch(q))
    problems.push('q: 1-64 of the characters of a device id (A-Z a-z 0-9 _ . : -)');
  const limit = parseLimit(params.get('limit'), maxLimit, problems, Math.min(DEFAULT_DEVICES, maxLimit));
  if (problems.length > 0) throw new BadRequest(problems.join('; '));
  return { contains: q === '' ? undefined : q, limit };
}

/** A device route: `/api/devices/<device>/<what>`, the device URL-decoded and checked. */
export interface DeviceRoute {
  device: string;
  what: string;
}

const DEVICE_ROUTE = /^\/api\/devices\/([^/]+)\/([a-z]+)$/;

/** The device and the page of a device route, or undefined for a path that is not one. */
export function parseDeviceRoute(pathname: string): DeviceRoute | undefined {
  const match = DEVICE_ROUTE.exec(pathname);
  if (!match) return undefined;
  let device: string;
  try {
    device = decodeURIComponent(match[1]!);
  } catch {
    throw new BadRequest('device: not a valid percent-encoded path segment');
  }
  if (!DEVICE_PATTERN.test(device))
    throw new BadRequest(
      `device: not a device id (1-64 of A-Z a-z 0-9 _ . : -): ${JSON.stringify(device.slice(0, 80))}`,
    );
  return { device, what: match[2]! };
}

function parseLimit(text: string | null, maxLimit: number, problems: string[], byDefault = maxLimit): number {
  const limit = text === null || text === '' ? byDefault : digitsOnly(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    problems.push(`limit: a whole number from 1 to ${maxLimit}`);
  }
  return limit;
}

// Plain decimal digits only: Number() would also take `1e3`, `0x10` and ` 1 `.
function digitsOnly(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
}
