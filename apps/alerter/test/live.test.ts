import { sharedRedis, writeReadings } from '@pipe/fixtures';
import { waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../src/rules.js';
import { alerterInTest, drainSettings, transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-live');

const HOT = 'rules:\n  - {name: hot, devices: "*", above: 90, clear: 80}\n';

describe('a live alerter', () => {
  it('applies new readings as they come, and keeps each state machine across a rules reload', async () => {
    const { keys } = fresh();
    const { alerter, registry } = alerterInTest(redis, keys, drainSettings(HOT, { drain: false }));
    const running = alerter.run();
    const now = Date.now();
    await writeReadings(redis, keys, [{ device: 'd1', ts: now, temp_f: 95 }]);
    await waitFor('the firing', async () => (await transitions(redis, keys)).length === 1);
    // Same rule, another threshold: the firing episode goes on; 85 is above the new clear.
    alerter.reload(parseRules('rules:\n  - {name: hot, devices: "*", above: 99, clear: 86}\n'));
    expect(alerter.activeRules[0]).toMatchObject({ threshold: 99 });
    await writeReadings(redis, keys, [{ device: 'd1', ts: now + 1000, temp_f: 85 }]);
    await waitFor('the resolve', async () => (await transitions(redis, keys)).length === 2);
    expect((await transitions(redis, keys)).map((t) => [t.state, t.value])).toEqual([
      ['firing', '95'],
      ['resolved', '85'],
    ]);
    const text = await registry.metrics();
    expect(text).toMatch(/pipe_alerter_transitions_total\{state="firing"\} 1/);
    expect(text).toMatch(/pipe_alerter_rule_reloads_total\{outcome="applied"\} 1/);
    await alerter.stop();
    await running;
  });

  it('fires no_data_for on the clock once caught up', async () => {
    const { keys } = fresh();
    const settings = drainSettings('rules:\n  - {name: silent, no_data_for: 1s}\n', { drain: false });
    const { alerter } = alerterInTest(redis, keys, settings);
    const running = alerter.run();
    const last = Date.now() - 5000;
    await writeReadings(redis, keys, [{ device: 'quiet-1', ts: last, temp_f: 60 }]);
    await waitFor('the silence alert', async () => (await transitions(redis, keys)).length === 1);
    expect((await transitions(redis, keys))[0]).toEqual({
      rule: 'silent',
      device: 'quiet-1',
      state: 'firing',
      since: String(last),
      at: String(last + 1000),
      value: '',
    });
    await alerter.stop();
    await running;
  });

  it('lets one instance read at a time: a second waits for the lease and takes over when the first stops', async () => {
    const { keys } = fresh();
    const first = alerterInTest(redis, keys, drainSettings(HOT, { drain: false, holder: 'first' }));
    const second = alerterInTest(
      redis,
      keys,
      drainSettings(HOT, { drain: false, holder: 'second', leaseTtlMs: 500 }),
    );
    const runs = [first.alerter.run()];
    await waitFor(
      'the first to hold the lease',
      async () => (await redis.get(keys.alerterLease)) === 'first',
    );
    runs.push(second.alerter.run());
    await new Promise((r) => setTimeout(r, 300));
    expect(await redis.get(keys.alerterLease)).toBe('first');
    expect(await second.registry.getSingleMetricAsString('pipe_alerter_lease_holder')).toMatch(/ 0$/);
    await first.alerter.stop();
    await runs[0];
    await waitFor('the second to take over', async () => (await redis.get(keys.alerterLease)) === 'second');
    await writeReadings(redis, keys, [{ device: 'd2', ts: Date.now(), temp_f: 91 }]);
    await waitFor('the second to apply it', async () => (await transitions(redis, keys)).length === 1);
    await second.alerter.stop();
    await runs[1];
    expect(await redis.get(keys.alerterLease)).toBeNull();
  });

  it('writes nothing for readings another alerter committed meanwhile: the commit finds the position moved', async () => {
    const { keys } = fresh();
    const { alerter, registry } = alerterInTest(redis, keys, drainSettings(HOT, { drain: false }));
    const running = alerter.run();
    const now = Date.now();
    await writeReadings(redis, keys, [{ device: 'd1', ts: now, temp_f: 70 }]);
    const partition = keys.partitionKeyFor(now);
    await waitFor(
      'the first reading applied',
      async () => (await redis.hget(keys.alertPositions, partition)) !== null,
    );
    // Another alerter (that held the lease while this one stalled) applied the next reading already.
    const id = `${Date.now() + 10_000}-0`;
    await redis.hset(keys.alertPositions, partition, id);
    await redis.xadd(partition, id, 'device', 'd1', 'ts', String(now + 1), 'temp_f', '95');
    await waitFor('the skip', async () =>
      /pipe_alerter_readings_skipped_total 1/.test(await registry.metrics()),
    );
    expect(await transitions(redis, keys)).toEqual([]);
    await alerter.stop();
    await running;
  });
  it('takes back a lease that expired with nobody holding it, and stops when another instance holds it', async () => {
    const { keys } = fresh();
    const { alerter } = alerterInTest(redis, keys, drainSettings(HOT, { drain: false, holder: 'stalled' }));
    const running = alerter.run();
    await waitFor('the lease', async () => (await redis.get(keys.alerterLease)) === 'stalled');
    // As if this process had stalled past the lease time: the lease is gone, nobody took it.
    await redis.del(keys.alerterLease);
    await waitFor('the lease taken back', async () => (await redis.get(keys.alerterLease)) === 'stalled');
    await writeReadings(redis, keys, [{ device: 'd3', ts: Date.now(), temp_f: 92 }]);
    await waitFor('the reading applied', async () => (await transitions(redis, keys)).length === 1);
    // Another instance took the expired lease: this one must stop reading, with the reason.
    await redis.set(keys.alerterLease, 'other', 'PX', 10_000);
    await expect(running).rejects.toThrow('lost the alerter lease to other');
  });
});
