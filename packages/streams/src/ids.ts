import { InvalidIdError } from './errors.js';

/** A parsed stream entry ID `<ms>-<seq>`. */
export interface StreamId {
  readonly ms: number;
  readonly seq: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const ID_PATTERN = /^(\d{1,16})(?:-(\d{1,20}))?$/;

export function parseId(id: string): StreamId {
  const match = ID_PATTERN.exec(id);
  if (!match) throw new InvalidIdError(id);
  const ms = Number(match[1]);
  const seq = match[2] === undefined ? 0 : Number(match[2]);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) throw new InvalidIdError(id);
  return { ms, seq };
}

export function formatId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/** Orders two IDs as Redis does: by ms, then by sequence. */
export function compareIds(a: string | StreamId, b: string | StreamId): number {
  const x = typeof a === 'string' ? parseId(a) : a;
  const y = typeof b === 'string' ? parseId(b) : b;
  return x.ms - y.ms || x.seq - y.seq;
}

export function idFromMs(ms: number, seq = 0): string {
  return `${Math.trunc(ms)}-${seq}`;
}

export function msFromId(id: string): number {
  return parseId(id).ms;
}

export function idFromDate(date: Date, seq = 0): string {
  return idFromMs(date.getTime(), seq);
}

export function dateFromId(id: string): Date {
  return new Date(msFromId(id));
}

/** The smallest ID strictly greater than `id`, for exclusive range starts on Redis < 6.2. */
export function nextId(id: string): string {
  const { ms, seq } = parseId(id);
  return seq === Number.MAX_SAFE_INTEGER ? idFromMs(ms + 1) : idFromMs(ms, seq + 1);
}

/** The UTC hour a timestamp falls in, as [start, end) in ms. */
export interface HourWindow {
  readonly start: number;
  readonly end: number;
}

export function hourWindowOf(ms: number): HourWindow {
  const start = Math.floor(ms / HOUR_MS) * HOUR_MS;
  return { start, end: start + HOUR_MS };
}

/** `YYYY/MM/DD` and the hour 0–23 of an hour start, in UTC (the RU202 averages layout). */
export function hourLabel(hourStartMs: number): { date: string; hour: number } {
  const d = new Date(hourStartMs);
  const date = `${d.getUTCFullYear()}/${pad2(d.getUTCMonth() + 1)}/${pad2(d.getUTCDate())}`;
  return { date, hour: d.getUTCHours() };
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
