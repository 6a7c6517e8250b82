import { DAY_MS, groupsOf, Stream } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { publishedAverages } from './fixtures/averages.js';
import { expectedHours, HOUR_MS, readingsBetween, writeReadings } from './fixtures/dataset.js';
import { startAggregator } from './fixtures/processes.js';
import { expectAveragesToMatch, sharedRedis } from './fixtures/setup.js';

const { redis, fresh } = sharedRedis();
const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 2 * HOUR_MS;

async function drain(flags: string[], ...extra: string[]) {
  const run = startAggregator(['run', '--drain', ...flags, ...extra]);
  const { code } = await run.exited;
  return { code, stderr: run.stderr(), output: run.output() };
}

/** Every reading written is in a published average, the late stream or the dead letters, once. */
async function expectAccounted(keys: ReturnType<typeof fresh>['keys'], written: number) {
  const counted = (await publishedAverages(redis, keys)).reduce((n, a) => n + a.num_observations, 0);
  const late = await new Stream(redis, keys.late).length();
  const dead = await new Stream(redis, keys.deadLetters).length();
  expect({ counted, late, dead }).toEqual({ counted: written, late: 0, dead: 0 });
}

describe('consumer groups', () => {
  it('refuses a second group after the first drained, with one line naming the owner and the way out', async () => {
    const { keys, flags } = fresh();
    const readings = readingsBetween(from, from + 6 * HOUR_MS, 60_000, 3, 21);
    await writeReadings(redis, keys, readings);
    expect((await drain(flags, '--group', 'g1')).code).toBe(0);
    const second = await drain(flags, '--group', 'g2');
    expect(second.code, second.output).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([
      `pipe-aggregator: ${keys.averages} is counted by consumer group "g1", not "g2": run with --group g1, ` +
        'or stop the aggregators of "g1" and start once with --take-over to hand it to "g2"',
    ]);
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    await expectAccounted(keys, readings.length);
    // It refused before reading anything: no group of its own was created.
    for (const partition of new Set(readings.map((r) => keys.partitionKeyFor(r.ts))))
      expect((await groupsOf(redis, partition)).map((g) => g.name)).toEqual(['g1']);
  });

  it('counts every reading once when two groups start at the same moment', async () => {
    const { keys, flags } = fresh();
    const readings = readingsBetween(from, from + 6 * HOUR_MS, 20_000, 3, 22);
    await writeReadings(redis, keys, readings);
    const [a, b] = await Promise.all([drain(flags, '--group', 'g1'), drain(flags, '--group', 'g2')]);
    expect([a.code, b.code].sort(), a.output + b.output).toEqual([0, 1]);
    expect((a.code === 1 ? a : b).stderr).toMatch(/is counted by consumer group "g[12]"/);
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    await expectAccounted(keys, readings.length);
  });

  it('hands the averages to a new group with --take-over, exactly where the old group stopped', async () => {
    const { keys, flags } = fresh();
    const first = readingsBetween(from, from + 3 * HOUR_MS, 30_000, 3, 23);
    await writeReadings(redis, keys, first);
    expect((await drain(flags, '--group', 'blue')).code).toBe(0);
    // More readings arrive after the blue deployment stopped; green takes over and counts only those.
    const second = readingsBetween(from + 3 * HOUR_MS, from + 7 * HOUR_MS, 30_000, 3, 24);
    await writeReadings(redis, keys, second);
    const green = await drain(flags, '--group', 'green', '--take-over');
    expect(green.code, green.output).toBe(0);
    await expectAveragesToMatch(redis, keys, expectedHours([...first, ...second]));
    await expectAccounted(keys, first.length + second.length);
    const partition = keys.partitionKeyFor(from);
    expect((await groupsOf(redis, partition)).map((g) => g.name)).toEqual(['green']);
    // The old group is now the one refused; green runs on without --take-over.
    expect((await drain(flags, '--group', 'blue')).stderr).toContain('counted by consumer group "green"');
    expect((await drain(flags, '--group', 'green')).code).toBe(0);
  });

  it('refuses --take-over while the old group holds entries it read and has not counted', async () => {
    const { keys, flags } = fresh();
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 60_000, 2, 25);
    await writeReadings(redis, keys, readings);
    expect((await drain(flags, '--group', 'blue')).code).toBe(0);
    const more = readingsBetween(from + 2 * HOUR_MS, from + 3 * HOUR_MS, 60_000, 2, 26);
    await writeReadings(redis, keys, more);
    const partition = keys.partitionKeyFor(from);
    // A blue consumer read five entries and died before counting them.
    await redis.xreadgroup('GROUP', 'blue', 'crashed', 'COUNT', 5, 'STREAMS', partition, '>');
    const green = await drain(flags, '--group', 'green', '--take-over');
    expect(green.code).toBe(1);
    expect(green.stderr.trim().split('\n')).toHaveLength(1);
    expect(green.stderr).toContain(`${partition}: 5 entries pending in "blue"`);
    // Blue finishes them (its own consumer reclaims them), then green takes over and counts the rest.
    expect((await drain(flags, '--group', 'blue', '--consumer', 'crashed')).code).toBe(0);
    expect((await drain(flags, '--group', 'green', '--take-over')).code).toBe(0);
    await expectAveragesToMatch(redis, keys, expectedHours([...readings, ...more]));
    await expectAccounted(keys, readings.length + more.length);
  });
});
