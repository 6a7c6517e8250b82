import { type AppProcess, metric, runReaper, sharedRedis } from '@pipe/fixtures';
import { freePort, waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { startReaper } from './helpers.js';

const { redis, fresh } = sharedRedis('reaper');
const LEASE_TTL_MS = 1500;

const leaseGauge = (port: number) => metric(port, 'pipe_reaper_lease_holder');

const acquired = (p: AppProcess) => p.events().filter((e) => e.msg === 'lease acquired; sweeping').length;

describe('one active reaper', () => {
  it('elects one of two replicas, and the other takes over within the lease time after kill -9', async () => {
    const { keys, flags } = fresh();
    const ports = [await freePort(), await freePort()];
    const replicas = ports.map((port) =>
      startReaper([
        'run',
        ...flags,
        '--interval',
        '100ms',
        '--lease-ttl',
        `${LEASE_TTL_MS}ms`,
        '--metrics-port',
        String(port),
      ]),
    );
    const holder = await waitFor('a lease holder', () =>
      redis.get(keys.reaperLease).then((h) => h ?? undefined),
    );
    await waitFor('both metrics servers', async () => {
      const gauges = await Promise.all(ports.map((p) => leaseGauge(p).catch(() => Number.NaN)));
      return gauges.every((g) => !Number.isNaN(g)) && gauges;
    });
    // Give the standby several chances to (wrongly) take the lease too.
    await new Promise((r) => setTimeout(r, LEASE_TTL_MS));

    const activeIndex = replicas.findIndex((r) => holder.includes(`-${r.child.pid}-`));
    expect(activeIndex).toBeGreaterThanOrEqual(0);
    const [active, standby] = [replicas[activeIndex]!, replicas[1 - activeIndex]!];
    expect(await redis.get(keys.reaperLease)).toBe(holder);
    const status = JSON.parse((await runReaper(['status', ...flags, '--json'])).stdout);
    expect(status.reaperLease.holder).toBe(holder);
    expect(status.reaperLease.ttlMs).toBeGreaterThan(0);
    expect([acquired(active), acquired(standby)]).toEqual([1, 0]);
    expect(await leaseGauge(ports[activeIndex]!)).toBe(1);
    expect(await leaseGauge(ports[1 - activeIndex]!)).toBe(0);

    active.child.kill('SIGKILL');
    const killedAt = Date.now();
    await active.exited;
    const successor = await waitFor(
      'the standby to take the lease',
      async () => {
        const now = await redis.get(keys.reaperLease);
        return now !== null && now !== holder && now;
      },
      3 * LEASE_TTL_MS,
    );
    const tookOverAfter = Date.now() - killedAt;
    expect(successor).toContain(`-${standby.child.pid}-`);
    // Lease time, plus one standby poll (a tenth of it), plus slack for a loaded machine.
    expect(tookOverAfter).toBeLessThan(LEASE_TTL_MS * 1.1 + 500);
    // And not before the dead holder's lease ran out (renewed every third of it: at least two thirds were left).
    expect(tookOverAfter).toBeGreaterThan(LEASE_TTL_MS / 2);
    await waitFor('the standby sweeping', async () => (await leaseGauge(ports[1 - activeIndex]!)) === 1);
    expect(acquired(standby)).toBe(1);

    // A graceful stop releases the lease at once rather than letting it expire.
    standby.child.kill('SIGTERM');
    expect((await standby.exited).code).toBe(0);
    expect(await redis.get(keys.reaperLease)).toBeNull();
  });
});
