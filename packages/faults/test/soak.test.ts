import {
  expectAveragesToMatch,
  generateReadings,
  HourTally,
  startAggregator,
  summaryOf,
} from '@pipe/fixtures';
import { connect, DAY_MS, type Reading, Stream } from '@pipe/streams';
import { RssSampler, waitFor } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { waitForEveryHour } from '../src/accounting.js';
import { feed, ndjsonLines, startIngest } from '../src/ingest.js';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();

const READINGS = 10_000_000;
const DEVICES = 100;
const STEP_MS = 1000;
/** The first partition holds only the minute before a midnight, so that it can expire during the run. */
const LEAD_MS = 60_000;
/** The first reading may still be written this long after the start (retention is set from it). */
const FIRST_READING_WRITABLE_MS = 60_000;
/**
 * How much the peak RSS of the last third of a process's life may exceed that of the first third.
 * Both processes settle at about 100-130 MiB; 25% of that is ~30 MiB, less than keeping 8 bytes (one
 * pointer) for each of the ~3.3 million readings that pass in the last third: a leak of anything per
 * reading fails, while V8's heap sizing (the old space grows and shrinks in steps) has room.
 */
const RSS_MARGIN = 1.25;

it('soak: 10,000,000 readings through producer and aggregator at once; memory stays bounded and partitions expire as configured', async () => {
  const server = await startServer();
  const target = targetOn(server.url, 'soak');
  const redis = connect({ url: server.url });
  try {
    // 100 devices, one reading a second each, for 100,000 s (27.8 h) ending at least 10 minutes ago and
    // starting a minute before a midnight: three daily partitions, the first a minute long.
    const t0 = Date.now();
    const span = (READINGS / DEVICES) * STEP_MS;
    const midnight = Math.floor((t0 - span - 10 * 60_000) / DAY_MS) * DAY_MS;
    const from = midnight - LEAD_MS;
    const to = from + span;
    // Retention just long enough for the oldest reading: the first partition (newest reading one step
    // before midnight) then expires about two minutes into the run, the others a day later.
    const retentionMs = t0 + FIRST_READING_WRITABLE_MS - from;
    const first = target.keys.partitionKeyFor(from);

    const tally = new HourTally();
    const newestByPartition = new Map<string, number>();
    let day = Number.NaN;
    let partition = '';
    // Fed to the producer as it takes them: the exact figures are computed on the way, nothing is held.
    function* tallied(readings: Iterable<Reading>): Generator<Reading> {
      for (const r of readings) {
        tally.add(r);
        if (Math.floor(r.ts / DAY_MS) !== day) {
          day = Math.floor(r.ts / DAY_MS);
          partition = target.keys.partitionKeyFor(r.ts);
        }
        newestByPartition.set(partition, r.ts);
        yield r;
      }
    }

    const aggregator = startAggregator(['run', '--block-ms', '500ms', '--idle-close', '3s', ...target.flags]);
    const producer = startIngest(
      target,
      feed(ndjsonLines(tallied(generateReadings(from, to, STEP_MS, DEVICES, 10))), { linesPerChunk: 5000 }),
      ['--retention', `${retentionMs}ms`],
    );
    const rss = {
      producer: new RssSampler(producer.child.pid!, 500),
      aggregator: new RssSampler(aggregator.child.pid!, 500),
    };

    // The first partition's expiry, as long as it exists; then that it is gone, with its companions.
    let firstExpireAt: number | undefined;
    let firstGoneAt: number | undefined;
    const watch = setInterval(async () => {
      const at = Date.now();
      const expireAt = Number(await redis.call('PEXPIRETIME', first).catch(() => Number.NaN));
      if (expireAt > 0) firstExpireAt = expireAt;
      else if (expireAt === -2 && firstExpireAt !== undefined) firstGoneAt ??= at;
    }, 500);

    try {
      const run = await producer.exited;
      expect(run.code, run.stderr).toBe(0);
      const summary = summaryOf(run);
      expect(summary).toMatchObject({ readings: READINGS, rejected: 0 });
      const expected = tally.hours();
      await waitForEveryHour(redis, target.keys, expected.length, 300_000);
      const drainedAt = Date.now();
      rss.aggregator.stop(); // what follows is idle time, not the soak
      await expectAveragesToMatch(redis, target.keys, expected);
      expect(await new Stream(redis, target.keys.late).length()).toBe(0);
      expect(await new Stream(redis, target.keys.deadLetters).length()).toBe(0);
      aggregator.kill('SIGTERM');
      expect((await aggregator.exited).code).toBe(0);

      // Retention: the first partition was seen expiring at its newest reading + retention, and went.
      const firstExpiry = newestByPartition.get(first)! + retentionMs;
      expect(firstExpireAt).toBe(firstExpiry);
      await waitFor(
        'the first partition to expire',
        () => firstGoneAt,
        Math.max(0, firstExpiry - Date.now()) + 5000,
      );
      expect(firstGoneAt!).toBeGreaterThanOrEqual(firstExpiry);
      // Its companions went with it, but the aggregator's sealed-hour state, which outlives a partition
      // by --keep-hours (120 h) plus a week so that a re-created partition's stragglers go late.
      const state = `{${first}}:agg`;
      expect(await redis.keys(`{${first}}:*`)).toEqual([state]);
      const outlives = Number(await redis.call('PEXPIRETIME', state)) - firstExpiry;
      expect(Math.abs(outlives - (120 + 7 * 24) * 3_600_000)).toBeLessThan(5000);
      // The others expire at their own newest reading + retention.
      const others = [...newestByPartition].filter(([key]) => key !== first);
      expect(others.length).toBeGreaterThanOrEqual(2);
      for (const [key, newest] of others)
        expect(Number(await redis.call('PEXPIRETIME', key))).toBe(newest + retentionMs);

      const peaks = { producer: rss.producer.peaksByThird(), aggregator: rss.aggregator.peaksByThird() };
      const memory = (await redis.info('memory')).match(/used_memory_human:(\S+)/)?.[1];
      console.log(
        `soak: ${READINGS} readings; producer ${summary.seconds} s (${summary.readingsPerSecond}/s); all ${expected.length} hours ` +
          `published ${((drainedAt - t0) / 1000).toFixed(1)} s after the start; first partition expired at +${((firstGoneAt! - t0) / 1000).toFixed(1)} s ` +
          `(due +${((firstExpiry - t0) / 1000).toFixed(1)} s); redis used_memory ${memory}\n` +
          `  peak RSS by third of life (MiB): producer ${peaks.producer.map(mib).join(' / ')} (${rss.producer.samples.length} samples), ` +
          `aggregator ${peaks.aggregator.map(mib).join(' / ')} (${rss.aggregator.samples.length} samples)`,
      );
      for (const [name, [firstThird, , lastThird]] of Object.entries(peaks)) {
        expect(rss[name as keyof typeof rss].samples.length, name).toBeGreaterThanOrEqual(30);
        expect(lastThird, `${name}: last third's peak RSS against the first third's`).toBeLessThanOrEqual(
          firstThird * RSS_MARGIN,
        );
      }
    } finally {
      clearInterval(watch);
      rss.producer.stop();
      rss.aggregator.stop();
      producer.kill('SIGKILL');
      aggregator.kill('SIGKILL');
    }
  } finally {
    redis.disconnect();
  }
}, 600_000);

const mib = (kib: number) => (kib / 1024).toFixed(0);
