import { sharedRedis, writeReadings } from '@pipe/fixtures';
import type { Reading, RedisClient } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { alerterInTest, drainSettings, transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-in-flight');
const T0 = Date.UTC(2026, 0, 7, 8, 0);
const HOT = 'rules:\n  - {name: hot, devices: "*", above: 90, clear: 80}\n';
/** Batches of a full COUNT: the alerter reads ahead and keeps each commit in flight while applying the next. */
const COUNT = 100;

/** The client, but each FCALL first runs `before(n)` (n counts the FCALLs from 1). */
function beforeEachFcall(client: RedisClient, before: (n: number) => Promise<void>): RedisClient {
  let calls = 0;
  const call = async (...args: Parameters<RedisClient['call']>) => {
    if (args[0] === 'FCALL') await before(++calls);
    return (client.call as (...a: unknown[]) => Promise<unknown>)(...args);
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === 'call') return call;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a commit in flight while the next batch is applied', () => {
  it('is applied again on the states read anew when another alerter moved the position meanwhile', async () => {
    const { keys } = fresh();
    // Three full batches of one device, cool; one hot reading in the third.
    const readings: Reading[] = Array.from({ length: 3 * COUNT }, (_, i) => ({
      device: 'd1',
      ts: T0 + i * 1000,
      temp_f: i === 2 * COUNT + 50 ? 95 : 70,
    }));
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(T0);
    const ids = (await redis.xrange(partition, '-', '+')).map(([id]) => id);
    // The second commit finds the position at the end of the second batch: another alerter (that took
    // the lease while this one stalled) applied that batch first.
    const client = beforeEachFcall(redis, async (n) => {
      if (n === 2) await redis.hset(keys.alertPositions, partition, ids[2 * COUNT - 1]!);
    });
    const { alerter, registry } = alerterInTest(client, keys, drainSettings(HOT, { count: COUNT }));
    await alerter.run();

    const metrics = await registry.metrics();
    expect(metrics).toMatch(new RegExp(`^pipe_alerter_readings_skipped_total ${COUNT}$`, 'm'));
    // The first and third batches: the third applied again on the states read after the refusal.
    expect(alerter.applied).toBe(2 * COUNT);
    expect(await redis.hget(keys.alertPositions, partition)).toBe(ids.at(-1));
    expect((await transitions(redis, keys)).map((t) => `${t.state} ${t.at}`)).toEqual([
      `firing ${T0 + (2 * COUNT + 50) * 1000}`,
      `resolved ${T0 + (2 * COUNT + 51) * 1000}`,
    ]);
    expect(await redis.xpending(partition, 'alerter')).toEqual([0, null, null, null]);
  });
});
