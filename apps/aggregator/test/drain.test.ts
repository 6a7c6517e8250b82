import {
  expectAveragesToMatch,
  expectedHours,
  readingsBetween,
  sharedRedis,
  writeReadings,
} from '@pipe/fixtures';
import { DAY_MS, HOUR_MS, Stream } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { inProcessAggregators, metricValue } from './in-process.js';

const { redis, fresh } = sharedRedis('agg');
const { drain } = inProcessAggregators();
// Recent days, so the data sits where a live pipeline would have it.
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;

describe('Aggregator with drain', () => {
  it('publishes every hour with exact means, starting outside hour 0 and including the last hour', async () => {
    const { keys } = fresh();
    const from = today - 2 * DAY_MS + 5 * HOUR_MS + 17 * 60_000;
    const readings = readingsBetween(from, from + 30 * HOUR_MS, 45_000, 3, 7);
    await writeReadings(redis, keys, readings);
    const run = await drain(keys);
    const published = await expectAveragesToMatch(redis, keys, expectedHours(readings));
    expect(published[0]!.hour).toBe(5);
    // The drain reports what it counted and how fast (the benchmark reads these figures).
    const [drained] = run.logged('drained');
    expect(drained).toMatchObject({ readings: readings.length, partitions: 2 });
    expect(drained!.seconds).toBeGreaterThan(0);
    expect(drained!.perSecond).toBeCloseTo(readings.length / (drained!.seconds as number), 6);
    // And so do its metrics: every entry read, counted and acknowledged, every hour published.
    expect(await metricValue(run, 'pipe_readings_consumed_total')).toBe(readings.length);
    expect(await metricValue(run, 'pipe_readings_acknowledged_total')).toBe(readings.length);
    expect(await metricValue(run, 'pipe_hours_published_total')).toBe(published.length);
    expect(run.aggregator.isRunning).toBe(false);
    expect(await new Stream(redis, keys.deadLetters).length()).toBe(0);
    expect(await new Stream(redis, keys.late).length()).toBe(0);
  });

  it('keeps two hours exactly 24 h apart as two averages and skips a missing day', async () => {
    const { keys } = fresh();
    const dayOne = today - 3 * DAY_MS + 13 * HOUR_MS;
    const readings = [
      ...readingsBetween(dayOne, dayOne + HOUR_MS, 60_000, 2, 1),
      ...readingsBetween(dayOne + DAY_MS, dayOne + DAY_MS + HOUR_MS, 60_000, 2, 2),
      // day three is missing entirely
      ...readingsBetween(dayOne + 3 * DAY_MS, dayOne + 3 * DAY_MS + HOUR_MS, 60_000, 2, 3),
    ];
    await writeReadings(redis, keys, readings);
    await redis.del(keys.partitionKeyFor(dayOne + 2 * DAY_MS));
    const expected = expectedHours(readings);
    expect(expected).toHaveLength(3);
    await drain(keys);
    await expectAveragesToMatch(redis, keys, expected);
  });

  it('puts 23:59:59.999 in hour 23 of one day and 00:00:00.000 in hour 0 of the next', async () => {
    const { keys } = fresh();
    const midnight = today - DAY_MS;
    const readings = [
      { device: 'a', ts: midnight - 1, temp_f: 10 },
      { device: 'a', ts: midnight - 2, temp_f: 20 },
      { device: 'b', ts: midnight, temp_f: 30.25 },
    ];
    await writeReadings(redis, keys, readings);
    await drain(keys);
    const published = await expectAveragesToMatch(redis, keys, expectedHours(readings));
    expect(published.map((a) => [a.date, a.hour, a.average_temp_f])).toEqual([
      [new Date(midnight - 1).toISOString().slice(0, 10).replaceAll('-', '/'), 23, 15],
      [new Date(midnight).toISOString().slice(0, 10).replaceAll('-', '/'), 0, 30.25],
    ]);
  });

  it('routes readings of an already published hour to the late stream and never publishes the hour twice', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 2 * HOUR_MS;
    const readings = readingsBetween(from, from + 3 * HOUR_MS, 60_000, 2, 4);
    await writeReadings(redis, keys, readings);
    await drain(keys);
    const stragglers = [
      { device: 'late-1', ts: from + 10 * 60_000, temp_f: 99.5 },
      { device: 'late-2', ts: from + HOUR_MS + 5, temp_f: 98 },
    ];
    await writeReadings(redis, keys, stragglers);
    await drain(keys);
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    const late = await new Stream(redis, keys.late).range();
    expect(late).toHaveLength(2);
    const fields = late.map((e) => Object.fromEntries(chunk(e.fields)));
    expect(fields.map((f) => JSON.parse(f.fields!).device).sort()).toEqual(['late-1', 'late-2']);
    for (const f of fields) expect(f.reason).toMatch(/already closed/);
    // The stragglers pushed the partition's expiry: the state that marks its hours sealed follows it,
    // though nothing was counted, and outlives it by --keep-hours (120 h) plus a week, so it cannot
    // expire first and let later stragglers count again.
    const partition = keys.partitionKeyFor(from);
    const state = keys.companionKey(partition, 'agg');
    const outlives = (await redis.pexpiretime(state)) - (await redis.pexpiretime(partition));
    expect(Math.abs(outlives - (120 + 7 * 24) * HOUR_MS)).toBeLessThan(100);
  });

  it('sends an hour that closes after a later one was published to the late stream, never publishing out of order', async () => {
    const { keys } = fresh();
    const later = readingsBetween(today - DAY_MS + 3 * HOUR_MS, today - DAY_MS + 5 * HOUR_MS, 60_000, 2, 9);
    await writeReadings(redis, keys, later);
    await drain(keys);
    // A partition of an earlier day appears only now (a backfill run late): its hour comes after the
    // stream's newest, which an averages stream ordered by hour cannot take.
    const earlier = readingsBetween(
      today - 2 * DAY_MS + 7 * HOUR_MS,
      today - 2 * DAY_MS + 8 * HOUR_MS,
      600_000,
      2,
      10,
    );
    await writeReadings(redis, keys, earlier);
    const run = await drain(keys);
    await expectAveragesToMatch(redis, keys, expectedHours(later));
    const newest = `${expectedHours(later).at(-1)!.hourStart}-0`;
    expect(run.logged('hour closed after a later one; totals sent to the late stream')).toEqual([
      expect.objectContaining({
        level: 50,
        hourStart: today - 2 * DAY_MS + 7 * HOUR_MS,
        lastPublished: newest,
      }),
    ]);
    // The hour's totals go as one late entry, so that nothing counted is lost.
    const late = (await new Stream(redis, keys.late).range()).map((e) => Object.fromEntries(chunk(e.fields)));
    const hour = today - 2 * DAY_MS + 7 * HOUR_MS;
    expect(late).toEqual([
      expect.objectContaining({
        stream: keys.partitionKeyFor(hour),
        id: `${hour}-0`,
        reason: `a later hour (${newest}) was published first`,
      }),
    ]);
    const totals = JSON.parse(late[0]!.fields!);
    expect(Number(totals.n)).toBe(earlier.length);
    expect(Number(totals.sum)).toBeCloseTo(
      earlier.reduce((sum, r) => sum + r.temp_f, 0),
      9,
    );
  });

  it('dead-letters undecodable entries with their reason and counts everything else', async () => {
    const { keys } = fresh();
    const from = today - DAY_MS + 6 * HOUR_MS;
    const readings = readingsBetween(from, from + 2 * HOUR_MS, 120_000, 2, 5);
    await writeReadings(redis, keys, readings);
    const partition = keys.partitionKeyFor(from);
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', String(from), 'temp_f', 'warm');
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', String(from), 'temp_f', 'Infinity');
    await redis.xadd(partition, '*', 'device', 'bad device!', 'ts', String(from), 'temp_f', '50');
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', 'yesterday', 'temp_f', '50');
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', String(from), 'temp_f', '50', 'humidity', '140');
    // Two in one hour would overflow its sum (1e308 + 1e308 is Infinity).
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', String(from), 'temp_f', '1e308');
    await redis.xadd(partition, '*', 'device', 'bad', 'ts', String(from), 'temp_f', '1e308');
    const run = await drain(keys);
    expect(await metricValue(run, 'pipe_entries_dead_lettered_total')).toBe(7);
    expect(run.logged('dead-lettered undecodable entries')).toEqual([
      expect.objectContaining({ stream: partition, count: 7 }),
    ]);
    await expectAveragesToMatch(redis, keys, expectedHours(readings));
    const dead = (await new Stream(redis, keys.deadLetters).range()).map((e) =>
      Object.fromEntries(chunk(e.fields)),
    );
    expect(dead.map((d) => d.reason)).toEqual([
      expect.stringMatching(/^temp_f: not a number/),
      expect.stringMatching(/^temp_f: not a number/),
      expect.stringMatching(/^device:/),
      expect.stringMatching(/^ts: not a number/),
      expect.stringMatching(/^humidity: out of range/),
      expect.stringMatching(/^temp_f: out of range/),
      expect.stringMatching(/^temp_f: out of range/),
    ]);
    for (const d of dead) {
      expect(d.stream).toBe(partition);
      expect(JSON.parse(d.fields!).device).toMatch(/^bad/);
    }
    const pending = (await redis.xpending(partition, 'aggregator')) as [number];
    expect(pending[0]).toBe(0);
  });

  it('caps the averages stream at about --keep-hours (XADD MAXLEN ~)', async () => {
    const { keys } = fresh();
    const from = today - 12 * DAY_MS;
    const readings = readingsBetween(from, from + 12 * DAY_MS, 30 * 60_000, 1, 6);
    await writeReadings(redis, keys, readings);
    await drain(keys, { keepHours: 120 });
    const length = await new Stream(redis, keys.averages).length();
    // `~` trims whole radix-tree nodes (100 entries by default): at least 120 stay, never 100 more.
    expect(length).toBeGreaterThanOrEqual(120);
    expect(length).toBeLessThan(220);
    const [newest] = await new Stream(redis, keys.averages).revrange({ count: 1 });
    expect(newest!.id).toBe(`${expectedHours(readings).at(-1)!.hourStart}-0`);
  });
});

function chunk(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}
