import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pause, unlessStopped, withDeadline } from './waiting.js';

class TookTooLong extends Error {}
const never = new Promise<never>(() => {});
const resolvesAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withDeadline', () => {
  it('settles as the work does when it is in time', async () => {
    await expect(withDeadline(resolvesAfter(5, 'read'), 1000, () => new TookTooLong())).resolves.toBe('read');
    await expect(
      withDeadline(Promise.reject(new Error('WRONGTYPE')), 1000, () => new TookTooLong()),
    ).rejects.toThrow('WRONGTYPE');
  });

  it('rejects with its own error when the work has not settled in time', async () => {
    const startedAt = Date.now();
    await expect(withDeadline(never, 50, () => new TookTooLong())).rejects.toBeInstanceOf(TookTooLong);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(45);
  });
});

describe('pause and unlessStopped', () => {
  it('end early when stopped, and leave no abort listener behind', async () => {
    const stop = new AbortController();
    const signal = stop.signal;
    for (let i = 0; i < 3; i++) expect(await unlessStopped(resolvesAfter(1, i), signal)).toBe(i);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);

    const waiting = unlessStopped(never, signal);
    const pausing = pause(60_000, signal);
    stop.abort();
    await expect(waiting).resolves.toBeUndefined();
    await expect(pausing).resolves.toBeUndefined();
    await expect(unlessStopped(resolvesAfter(1, 'late'), signal)).resolves.toBeUndefined();
  });
});
