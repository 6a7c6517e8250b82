import { sharedRedis } from '@pipe/fixtures';
import { Lease, PipeError } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@pipe/testkit';
import { runReaperInProcess } from './in-process.js';

const { redis, fresh } = sharedRedis('reaper');
const LEASE_TTL_MS = 600;

describe('Lease', () => {
  it('is taken by one holder at a time, renewed and released only by its holder', async () => {
    const { keys } = fresh();
    const first = new Lease(redis, keys.reaperLease, 'first', LEASE_TTL_MS);
    const second = new Lease(redis, keys.reaperLease, 'second', LEASE_TTL_MS);

    expect(await first.acquire()).toBe(true);
    expect(await second.acquire()).toBe(false);
    expect(await first.acquire()).toBe(true); // still ours: renewed
    expect(await second.renew()).toBe(false);
    expect(await second.release()).toBe(false);
    expect(await first.holderNow()).toBe('first');
    expect(await redis.pttl(keys.reaperLease)).toBeGreaterThan(LEASE_TTL_MS / 2);

    expect(await first.release()).toBe(true);
    expect(await first.holderNow()).toBeNull();
    expect(await second.acquire()).toBe(true);
  });

  it('expires when its holder stops renewing it', async () => {
    const { keys } = fresh();
    const gone = new Lease(redis, keys.reaperLease, 'gone', 200);
    expect(await gone.acquire()).toBe(true);
    await waitFor('the lease to expire', async () => (await gone.holderNow()) === null, 2_000);
    expect(await gone.renew()).toBe(false);
  });
});

describe('Reaper replicas', () => {
  it('elect one sweeper; when it stops, it releases the lease and the standby takes over within a poll', async () => {
    const { keys } = fresh();
    const options = { intervalMs: 100, leaseTtlMs: LEASE_TTL_MS };
    const a = runReaperInProcess(redis, keys, { holder: 'a', ...options });
    await waitFor('a to lead', () => a.reaper.isActive);
    const b = runReaperInProcess(redis, keys, { holder: 'b', ...options });
    // Several standby polls and renewals: the standby must not take the lease meanwhile.
    await new Promise((r) => setTimeout(r, LEASE_TTL_MS));

    expect([a.reaper.isActive, b.reaper.isActive]).toEqual([true, false]);
    expect(await redis.get(keys.reaperLease)).toBe('a');
    expect([await a.metric('pipe_reaper_lease_holder'), await b.metric('pipe_reaper_lease_holder')]).toEqual([
      1, 0,
    ]);
    expect(a.events.some((e) => e.msg === 'sweep finished')).toBe(true);
    expect(b.events.some((e) => e.msg === 'sweep finished')).toBe(false);

    const stoppedAt = Date.now();
    await a.reaper.stop();
    expect(a.reaper.isRunning).toBe(false);
    expect(await a.metric('pipe_reaper_lease_holder')).toBe(0);
    expect(a.events.at(-1)).toMatchObject({ msg: 'lease released', holder: 'a' });
    await waitFor('b to lead', () => b.reaper.isActive);
    // Released, not expired: b takes it within a standby poll (a tenth of the lease), not a lease time.
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_TTL_MS);
    expect(await redis.get(keys.reaperLease)).toBe('b');
  });

  it('stands by when another replica took its lease, and leads again once the lease is free', async () => {
    const { keys } = fresh();
    const a = runReaperInProcess(redis, keys, { holder: 'a', intervalMs: 100, leaseTtlMs: LEASE_TTL_MS });
    await waitFor('a to lead', () => a.reaper.isActive);

    // Another holder overwrites the lease (as after a failover that lost a's renewal).
    await redis.set(keys.reaperLease, 'intruder', 'PX', LEASE_TTL_MS);
    await waitFor('a to stand by', () => !a.reaper.isActive, 2_000);
    expect(a.events.find((e) => e.msg === 'lease lost to another replica; standing by')).toMatchObject({
      level: 'warn',
      holder: 'a',
    });
    expect(await a.metric('pipe_reaper_lease_holder')).toBe(0);

    await waitFor('a to lead again', () => a.reaper.isActive, 3 * LEASE_TTL_MS);
    expect(await redis.get(keys.reaperLease)).toBe('a');
    expect(a.events.filter((e) => e.msg === 'lease acquired; sweeping')).toHaveLength(2);
  });

  it('refuses to run twice, and stops at once while waiting between sweeps', async () => {
    const { keys } = fresh();
    const a = runReaperInProcess(redis, keys, { holder: 'a', intervalMs: 60_000, leaseTtlMs: LEASE_TTL_MS });
    expect(() => a.reaper.run()).toThrow(PipeError);
    expect(a.reaper.isRunning).toBe(true);
    await waitFor('the first sweep', () => a.events.some((e) => e.msg === 'sweep finished'));

    const stoppedAt = Date.now();
    await Promise.all([a.reaper.stop(), a.reaper.stop()]);
    await a.running;
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(await redis.get(keys.reaperLease)).toBeNull();
  });

  it('counts what each sweep did in its metrics', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await redis.xadd(partition, '*', 'temp_f', '60');
    await redis.xgroup('CREATE', partition, 'g', '0');
    await redis.xgroup('CREATECONSUMER', partition, 'g', 'long-gone');
    const a = runReaperInProcess(redis, keys, { holder: 'a', intervalMs: 100, consumerTtlMs: 0 });

    await waitFor(
      'the consumer removed',
      async () => (await a.metric('pipe_reaper_consumers_removed_total')) === 1,
    );
    const { values } = await a.metrics.sweepSeconds.get();
    expect(
      values.find((v) => v.metricName === 'pipe_reaper_sweep_duration_seconds_count')!.value,
    ).toBeGreaterThan(0);
    // A sweep that did something is logged at info, an idle one at debug.
    const sweeps = a.events.filter((e) => e.msg === 'sweep finished');
    expect(sweeps[0]).toMatchObject({ level: 'info', consumersRemoved: 1 });
    await waitFor('an idle sweep', () => a.events.filter((e) => e.msg === 'sweep finished').length > 1);
    expect(a.events.filter((e) => e.msg === 'sweep finished')[1]).toMatchObject({ level: 'debug' });
  });
});
