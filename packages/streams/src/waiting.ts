// How pipe's services wait: a deadline on a Redis reply, a retry pause a stop cuts short, a read a
// stop abandons, and one backoff. Shared by ConsumerLoop, the viewer's feed and tail, the producer's
// writer, the metrics server's probes and the aggregator's stop budget.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Settles as `work` does, or rejects with `timedOut()` after `ms`: a read on a connection that hung
 * (open socket, no answer) must not hang the feed or a page. `work` keeps running; its late outcome is
 * ignored.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  work.catch(() => {});
  // A plain timer, cleared: an aborted timers/promises sleep rejects with a DOMException (a stack
  // trace captured) on every read of a loop that reads thousands of times a second.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or less when `stop` aborts: a retry pause must not hold up a stop. */
export async function pause(ms: number, stop: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal: stop }).catch(() => {});
}

/** `work`'s result, or undefined as soon as `stop` aborts (a read queued behind an outage may never end). */
export async function unlessStopped<T>(work: Promise<T>, stop: AbortSignal): Promise<T | undefined> {
  work.catch(() => {});
  if (stop.aborted) return undefined;
  let onAbort = () => {};
  const stopped = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
  });
  stop.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    // A feed calls this once per read for as long as it runs: no listener may stay behind.
    stop.removeEventListener('abort', onAbort);
  }
}

/**
 * How long to wait before retry `attempt` (0 first): doubling from `baseMs` up to `capMs`, with the
 * upper half random ("equal jitter"), so that clients that failed together do not retry together.
 */
export function backoffMs(
  attempt: number,
  {
    baseMs = 100,
    capMs = 2000,
    random = Math.random,
  }: { baseMs?: number; capMs?: number; random?: () => number } = {},
): number {
  const ceiling = Math.min(baseMs * 2 ** Math.min(attempt, 30), capMs);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
