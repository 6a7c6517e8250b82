import { drainUnderKillChurn, prng, readingsBetween, startDrainer, summaryOf } from '@pipe/fixtures';
import { connect, HOUR_MS, Stream } from '@pipe/streams';
import { expect, it } from 'vitest';
import { expectEachCountedOnce } from '../src/accounting.js';
import { feed, ndjsonLines, startIngest } from '../src/ingest.js';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();

const READINGS = 500_000;
const DEVICES = 20;
const STEP_MS = 10_000;

it('kill -9 of aggregator instances at random during a 500,000-reading drain: every reading counted once, no hour doubled', async () => {
  const server = await startServer();
  const target = targetOn(server.url, 'kills');
  const redis = connect({ url: server.url });
  try {
    // 20 devices every 10 s for about 69 hours: four daily partitions, read by every instance at once.
    const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 72 * HOUR_MS;
    const to = from + (READINGS / DEVICES) * STEP_MS;
    const readings = readingsBetween(from, to, STEP_MS, DEVICES, 500);
    const ingest = await startIngest(target, feed(ndjsonLines(readings)), ['--retention', '4d']).exited;
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(summaryOf(ingest)).toMatchObject({ readings: READINGS, rejected: 0 });

    const started = Date.now();
    const churn = await drainUnderKillChurn({
      redis,
      partitions: target.keys.partitionKeysBetween(from, to),
      names: ['agg-a', 'agg-b', 'agg-c'],
      start: (name) => startDrainer(name, 500, target.flags),
      random: prng(2027),
      maxKills: 40,
      timeoutMs: 240_000,
    });
    const drainMs = Date.now() - started;
    const accounting = await expectEachCountedOnce(redis, target.keys, readings);
    console.log(
      `aggregator kills: ${READINGS} readings drained by 3 instances in ${drainMs} ms; ` +
        `${churn.kills} kill -9, ${churn.killsHoldingEntries} of them holding entries; ` +
        `counted ${accounting.counted} into ${accounting.hours} hours, late ${accounting.late}`,
    );
    expect(churn.finished, 'every instance drained and exited 0').toBe(3);
    // The kills must hit instances in the middle of a batch, many times, or the test proves nothing.
    expect(churn.kills).toBeGreaterThanOrEqual(20);
    expect(churn.killsHoldingEntries).toBeGreaterThanOrEqual(10);
    // A drain of data that is all there cannot see a reading after its hour closed.
    expect(accounting.late).toBe(0);
    expect(await new Stream(redis, target.keys.deadLetters).length()).toBe(0);
  } finally {
    redis.disconnect();
  }
}, 300_000);
