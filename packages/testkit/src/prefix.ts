import { randomBytes } from 'node:crypto';

/** A unique key prefix so test files can share one server and run in parallel. */
export function randomPrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}
