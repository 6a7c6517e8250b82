import {
  expectAveragesToMatch,
  expectedHours,
  publishedAverages,
  readingsBetween,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, groupsOf, HOUR_MS, Stream } from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { NotOwnerError } from '../src/ownership.js';
import { inProcessAggregators } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { start, drain } = inProcessAggregators();
const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 2 * HOUR_MS;

/** A drain of `group` that must be refused: what it was refused with. */
async function refused(keys: ReturnType<typeof fresh>['keys'], group: string, takeOver = false) {
  const run = start(keys, { group, takeOver, drain: true });
  const err = await run.ended.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the drain was not refused').toBeInstanceOf(NotOwnerError);
  return err as NotOwnerError;
}

/** Every reading written is in a published average, the late stream or the dead letters, once. */
async function expectAccounted(keys: ReturnType<typeof fresh>['keys'], written: number) {
  const counted = (await publishedAverages(redis, keys)).reduce((n, a) => n + a.num_observations, 0);
  const late = await new Stream(redis, keys.late).length();
  const dead = await new Stream(redis, keys.deadLetters).length();
  expect({ counted, late, dead }).toEqual({ counted: written, late: 0, dead: 0 });
}

describe('consumer groups', () => {
  it('refuses a second group after the first drained, naming the owner and the way out', async () => {
    const { keys } = fresh();
    const readings = readingsBetween(from, from + 6 * HOUR_MS, 60_000, 3, 21);
    await writeReadings(redis, keys, readings);
    await drain(keys, { group: 'g1' });
    const err = await refused(keys, 'g2');
    expect(err.message).toBe(
      `${keys.averages} is counted by consumer group "g1", not "g2": run with --group g1, ` +
        'or stop the aggregators of "g1" and start once with --take-over to hand it to "g2"',
    );
    expect(err.code).toBe('NOT_OWNER');
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    await expectAccounted(keys, readings.length);
    // It refused before reading anything: no group of its own was created.
    for (const partition of new Set(readings.map((r) => keys.partitionKeyFor(r.ts))))
      expect((await groupsOf(redis, partition)).map((g) => g.name)).toEqual(['g1']);
  });

  it('counts every reading once when two groups start at the same moment', async () => {
    const { keys } = fresh();
    const readings = readingsBetween(from, from + 6 * HOUR_MS, 20_000, 3, 22);
    await writeReadings(redis, keys, readings);
    const [a, b] = [start(keys, { group: 'g1', drain: true }), start(keys, { group: 'g2', drain: true })];
    const outcomes = await Promise.allSettled([a.ended, b.ended]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const loser = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(NotOwnerError);
    expect(loser.reason.message).toMatch(/is counted by consumer group "g[12]"/);
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    await expectAccounted(keys, readings.length);
  });

  it('hands the averages to a new group with takeOver, exactly where the old group stopped', async () => {
    const { keys } = fresh();
    const first = readingsBetween(from, from + 3 * HOUR_MS, 30_000, 3, 23);
    await writeReadings(redis, keys, first);
    await drain(keys, { group: 'blue' });
    // More readings arrive after the blue deployment stopped; green takes over and counts only those.
    const second = readingsBetween(from + 3 * HOUR_MS, from + 7 * HOUR_MS, 30_000, 3, 24);
    await writeReadings(redis, keys, second);
    const green = await drain(keys, { group: 'green', takeOver: true });
    expect(green.logged('took over the averages')).toEqual([
      expect.objectContaining({ from: 'blue', to: 'green', partitions: 1 }),
    ]);
    await expectAveragesToMatch(redis, keys, expectedHours([...first, ...second]));
    await expectAccounted(keys, first.length + second.length);
    const partition = keys.partitionKeyFor(from);
    expect((await groupsOf(redis, partition)).map((g) => g.name)).toEqual(['green']);
    // The old group is now the one refused; green runs on without takeOver.
    expect((await refused(keys, 'blue')).message).toContain('counted by consumer group "green"');
    await drain(keys, { group: 'green' });
  });

  it('refuses takeOver while the old group holds entries it read and has not counted', async () => {
    const { keys } = fresh();
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 2, 25);
    await writeReadings(redis, keys, readings);
    await drain(keys, { group: 'blue' });
    const more = readingsBetween(from + 2 * HOUR_MS, from + 3 * HOUR_MS, 60_000, 2, 26);
    await writeReadings(redis, keys, more);
    const partition = keys.partitionKeyFor(from);
    // A blue consumer read five entries and died before counting them.
    await redis.xreadgroup('GROUP', 'blue', 'crashed', 'COUNT', 5, 'STREAMS', partition, '>');
    const err = await refused(keys, 'green', true);
    // One line: main.ts prints it as the process's only line on stderr.
    expect(err.message).not.toContain('\n');
    expect(err.message).toContain(`${partition}: 5 entries pending in "blue"`);
    // Blue finishes them (its own consumer reclaims them), then green takes over and counts the rest.
    await drain(keys, { group: 'blue', consumer: 'crashed' });
    await drain(keys, { group: 'green', takeOver: true });
    await expectAveragesToMatch(redis, keys, expectedHours([...readings, ...more]));
    await expectAccounted(keys, readings.length + more.length);
  });

  it('stops a running group with NotOwnerError once another group took the averages over', async () => {
    const { keys } = fresh();
    const first = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 2, 27);
    await writeReadings(redis, keys, first);
    const blue = start(keys, { group: 'blue', blockMs: 100, grace: 0 });
    const partition = keys.partitionKeyFor(from);
    await waitFor('blue to catch up', async () => {
      const [group] = await groupsOf(redis, partition);
      return group?.lag === 0 && group.pending === 0;
    });
    // Green takes over while a blue aggregator still runs (the operator did not stop it first).
    await drain(keys, { group: 'green', takeOver: true });
    const more = readingsBetween(from + 2 * HOUR_MS, from + 3 * HOUR_MS, 60_000, 2, 28);
    await writeReadings(redis, keys, more);
    const err = await blue.ended.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotOwnerError);
    expect((err as Error).message).toBe(
      `${partition} is counted by consumer group green, not "blue": stopped counting`,
    );
    // Blue counted none of them: green's next drain counts every one, once.
    await drain(keys, { group: 'green' });
    await expectAveragesToMatch(redis, keys, expectedHours([...first, ...more]));
    await expectAccounted(keys, first.length + more.length);
  });
});
