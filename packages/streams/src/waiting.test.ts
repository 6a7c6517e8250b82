import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { backoffMs, pause, unlessStopped, withDeadline } from './waiting.js';

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

describe('backoffMs', () => {
  it('doubles from 100 ms and stops growing at 2 s, the upper half random', () => {
    expect(backoffMs(0, { random: () => 1 })).toBe(100);
    expect(backoffMs(1, { random: () => 1 })).toBe(200);
    expect(backoffMs(10, { random: () => 1 })).toBe(2000);
    expect(backoffMs(10, { random: () => 0 })).toBe(1000);
    expect(backoffMs(1000, { random: () => 1 })).toBe(2000);
  });

  it('takes another base and cap', () => {
    expect(backoffMs(3, { baseMs: 50, capMs: 300, random: () => 1 })).toBe(300);
    expect(backoffMs(2, { baseMs: 50, capMs: 300, random: () => 0 })).toBe(100);
  });
});
