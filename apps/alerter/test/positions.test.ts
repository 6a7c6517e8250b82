import { sharedRedis, writeReadings } from '@pipe/fixtures';
import { describe, expect, it } from 'vitest';
import { defineAlerterScripts } from '../src/scripts.js';
import { alerterInTest, drainSettings, transitions } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-positions');
const HOT = 'rules:\n  - {name: hot, devices: "*", above: 90, clear: 80}\n';
const DAY1 = Date.UTC(2026, 0, 5, 10);
const DAY2 = Date.UTC(2026, 0, 6, 10);

/** Drains through a new in-process alerter; its count of pruned positions. */
async function drain(keys: Parameters<typeof alerterInTest>[1]): Promise<string> {
  const { alerter, registry } = alerterInTest(redis, keys, drainSettings(HOT));
  await alerter.run();
  return (await registry.metrics()).match(/^pipe_alerter_positions_pruned_total (\d+)$/m)?.[1] ?? '';
}

describe('partition positions', () => {
  it('are forgotten once their partition is gone, and only theirs', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [
      { device: 'd1', ts: DAY1, temp_f: 95 },
      { device: 'd1', ts: DAY2, temp_f: 70 },
    ]);
    const [day1, day2] = [keys.partitionKeyFor(DAY1), keys.partitionKeyFor(DAY2)];
    expect(await drain(keys)).toBe('0');
    expect(Object.keys(await redis.hgetall(keys.alertPositions)).sort()).toEqual([day1, day2]);
    const written = await transitions(redis, keys);
    expect(written.map((t) => t.state)).toEqual(['firing', 'resolved']);

    await redis.del(day1);
    expect(await drain(keys)).toBe('1');
    expect(Object.keys(await redis.hgetall(keys.alertPositions))).toEqual([day2]);
    expect(await transitions(redis, keys)).toEqual(written);
  });

  it('applies once the readings of a partition written again after its position was forgotten', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [{ device: 'd1', ts: DAY1, temp_f: 95 }]);
    await drain(keys);
    await redis.del(keys.partitionKeyFor(DAY1));
    expect(await drain(keys)).toBe('1');
    // A later reading of the same day: the partition is back, with new entries only.
    await writeReadings(redis, keys, [{ device: 'd1', ts: DAY1 + 60_000, temp_f: 70 }]);
    await drain(keys);
    await drain(keys);
    expect((await transitions(redis, keys)).map((t) => `${t.state} ${t.at}`)).toEqual([
      `firing ${DAY1}`,
      `resolved ${DAY1 + 60_000}`,
    ]);
  });

  it('keeps a position that moved after its partition was found gone (read again meanwhile)', async () => {
    const { keys } = fresh();
    const prune = defineAlerterScripts(redis).prunePositions;
    await redis.hset(keys.alertPositions, 'p1', '5-0', 'p2', '7-0');
    // p1 was seen gone at 4-0 and has moved to 5-0 since; p2 is still at what was seen.
    expect(await prune([keys.alertPositions], ['p1', '4-0', 'p2', '7-0'])).toBe(1);
    expect(await redis.hgetall(keys.alertPositions)).toEqual({ p1: '5-0' });
  });
});
