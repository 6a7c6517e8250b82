import { PipeError } from '@pipe/streams';
import { parseTimeBound, TIME_BOUND_EXPECTED } from './time-bound.js';

/** A request the API cannot answer as asked; the message says which parameter and why. */
export class BadRequest extends PipeError {
  override readonly name = 'BadRequest';
  constructor(message: string) {
    super(message, 'BAD_REQUEST');
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
  const limitText = params.get('limit');
  // Plain decimal digits only: Number() would also take `1e3`, `0x10` and ` 1 `.
  const limit = limitText === null || limitText === '' ? maxLimit : digitsOnly(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    problems.push(`limit: a whole number from 1 to ${maxLimit}`);
  }
  if (problems.length > 0) throw new BadRequest(problems.join('; '));
  return { fromMs, toMs, limit };
}

function digitsOnly(text: string): number {
  return /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
}
