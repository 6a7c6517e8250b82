import { sleep } from './redis-server.js';

/**
 * Waits, when less than `marginMs` is left before the clock's next multiple of `periodMs` (the end
 * of an hour, a UTC day), until just past it: a test that takes "now" to lie inside one hour or day
 * then holds at every moment (`pnpm test:clock` starts test files seconds before such turns).
 */
export async function clearOfTurn(periodMs: number, marginMs: number): Promise<void> {
  const left = periodMs - (Date.now() % periodMs);
  if (left < marginMs) await sleep(left + 50);
}
