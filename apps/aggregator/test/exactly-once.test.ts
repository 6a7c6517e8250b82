import { DAY_MS, Stream } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { expectedHours, HOUR_MS, prng, readingsBetween, writeReadings } from './fixtures/dataset.js';
import { type AppProcess, startAggregator } from './fixtures/processes.js';
import { expectAveragesToMatch, sharedRedis } from './fixtures/setup.js';

const { redis, fresh } = sharedRedis();

it('counts every reading exactly once with 3 instances killed with kill -9 mid-batch and restarted, again and again', async () => {
  const { keys, flags } = fresh();
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - 3 * DAY_MS + 3 * HOUR_MS + 600_000;
  const readings = readingsBetween(from, from + 2.5 * DAY_MS, 10_000, 4, 42);
  await writeReadings(redis, keys, readings);

  const random = prng(2026);
  const names = ['agg-a', 'agg-b', 'agg-c'];
  // Small batches and a short pending check make many kill points and quick recovery.
  const start = (name: string) =>
    startAggregator([
      'run',
      '--drain',
      '--consumer',
      name,
      '--count',
      '150',
      '--pending-check',
      '200ms',
      '--block-ms',
      '200ms',
      ...flags,
    ]);
  const instances = new Map<string, AppProcess>(names.map((n) => [n, start(n)]));
  const finished = new Set<string>();
  let kills = 0;
  let killsHoldingEntries = 0;
  const partitions = keys.partitionKeysBetween(from, from + 2.5 * DAY_MS);
  const pendingOf = async (consumer: string) => {
    let total = 0;
    for (const partition of partitions) {
      const rows = (await redis
        .xpending(partition, 'aggregator', '-', '+', 1, consumer)
        .catch(() => [])) as unknown[];
      total += rows.length;
    }
    return total;
  };

  const deadline = Date.now() + 150_000;
  while (finished.size < names.length && Date.now() < deadline) {
    await sleep(50 + random() * 200);
    for (const [name, p] of instances) {
      if (p.child.exitCode === 0) finished.add(name);
      else if (p.child.exitCode !== null)
        throw new Error(`${name} exited ${p.child.exitCode}: ${p.output()}`);
    }
    if (kills >= 30) continue;
    // Kill an instance in the middle of a batch (holding delivered, unacknowledged entries): that is
    // the moment a non-atomic design would lose or double-count readings.
    const holding: string[] = [];
    for (const name of names) if (!finished.has(name) && (await pendingOf(name)) > 0) holding.push(name);
    if (holding.length === 0) continue;
    const victim = holding[Math.floor(random() * holding.length)]!;
    const p = instances.get(victim)!;
    p.child.kill('SIGKILL');
    await p.exited;
    kills++;
    if ((await pendingOf(victim)) > 0) killsHoldingEntries++;
    instances.set(victim, start(victim));
  }
  expect(finished.size, 'every instance drained and exited 0').toBe(names.length);
  expect(kills).toBeGreaterThanOrEqual(8);
  // The kills must hit instances in the middle of a batch, or the test proves nothing.
  expect(killsHoldingEntries).toBeGreaterThanOrEqual(5);

  const expected = expectedHours(readings);
  await expectAveragesToMatch(redis, keys, expected);
  expect(expected.reduce((s, h) => s + h.n, 0)).toBe(readings.length);
  expect(await new Stream(redis, keys.deadLetters).length()).toBe(0);
  expect(await new Stream(redis, keys.late).length()).toBe(0);
}, 180_000);
