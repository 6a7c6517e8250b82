import { holdsEntries, publishedAverages, readingsBetween, summaryOf } from '@pipe/fixtures';
import { connect, HOUR_MS, type Reading, Stream } from '@pipe/streams';
import { freePort, type RedisServer, waitFor } from '@pipe/testkit';
import { expect } from 'vitest';
import {
  type Accounting,
  expectEachCountedOnce,
  hourCount,
  landedReadings,
  missingFromInput,
  waitForEveryHour,
} from './accounting.js';
import { feed, ndjsonLines, startIngest } from './ingest.js';
import { ProducerAcks } from './producer-acks.js';
import { Services } from './services.js';
import { targetOn } from './target.js';

export interface FaultOutcome {
  input: number;
  /** Input readings that are not in Redis at the end although the producer reported them written. */
  lost: Reading[];
  accounting: Accounting;
  /** From the end of the fault until every hour was published and every partition caught up. */
  recoveryMs: number;
  /**
   * From the end of the fault until the producer acknowledged its next reading: how long its connection
   * took to come back (sampled every 100 ms), whatever the machine's speed at catching up afterwards.
   */
  resumedMs: number;
  /** Attempts it took to catch the second aggregator holding entries (see Services.crashHoldingEntries). */
  crashAttempts: number;
}

/**
 * The whole pipeline through a Redis fault: producer (a paced ingest), two live aggregators, the reaper
 * and a following viewer start; once a third of the input is acknowledged, `fault` strikes; afterwards
 * one aggregator is killed while it holds entries, which only the reaper can pass to the other.
 *
 * Checks what must hold whatever the fault: the producer ends with exit 0 having written the whole
 * input, Redis holds no reading twice and none that is not the input's, every landed reading is counted
 * once or named in the late stream (averages equal exact means), no dead letters, the viewer printed
 * every average once, the reaper handed on the dead aggregator's entries, and every service still
 * running stops cleanly. The caller judges `lost` against what the fault may lose.
 */
export async function runPipelineThroughFault(
  server: RedisServer,
  fault: (acks: ProducerAcks) => Promise<void>,
): Promise<FaultOutcome> {
  const target = targetOn(server.url, 'fault');
  const redis = connect({ url: server.url });
  redis.on('error', () => {}); // refused while the server is down; commands wait and retry
  // 288,000 readings over 8 hours of yesterday-ish, fed at about 40,000/s: the run lasts seconds.
  const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 20 * HOUR_MS;
  const to = from + 8 * HOUR_MS;
  const readings = readingsBetween(from, to, 4000, 40, 7);
  const services = new Services(target, redis, ['agg-a', 'agg-b']);
  const metricsPort = await freePort();
  const producer = startIngest(target, feed(ndjsonLines(readings), { pauseMs: 25 }), [
    '--metrics-port',
    String(metricsPort),
  ]);
  const acks = new ProducerAcks(metricsPort);
  try {
    await waitFor('a third of the input acknowledged', () => acks.latest >= readings.length / 3, 60_000);
    await fault(acks);
    const faultEnded = Date.now();
    const crashAttempts = await services.crashHoldingEntries(
      'agg-b',
      target.keys.partitionKeysBetween(from, to),
    );

    const run = await producer.exited;
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: readings.length, rejected: 0 });
    const landed = await landedReadings(redis, target.keys);
    const lost = missingFromInput(readings, landed);

    await waitForEveryHour(redis, target.keys, hourCount(landed));
    const recoveryMs = Date.now() - faultEnded;
    const accounting = await expectEachCountedOnce(redis, target.keys, landed);
    expect(await new Stream(redis, target.keys.deadLetters).length()).toBe(0);

    const published = await publishedAverages(redis, target.keys);
    await waitFor(
      'the viewer to print every average',
      () => services.viewerAverages().length >= published.length,
    );
    expect(services.viewerAverages()).toEqual(published);

    // The dead aggregator's entries went on only through the reaper, which lived through the fault.
    expect(await holdsEntries(redis, target.keys.partitionKeysBetween(from, to), 'aggregator', 'agg-b')).toBe(
      false,
    );
    expect(services.reaper.events().some((e) => e.msg === 'claimed stale entries')).toBe(true);

    expect(await services.stop()).toEqual({ 'agg-a': 0, reaper: 0, viewer: 0 });
    const resumed = acks.samples.find((x) => x.at > faultEnded && x.written > acks.writtenBy(faultEnded));
    const resumedMs = (resumed?.at ?? Number.POSITIVE_INFINITY) - faultEnded;
    return { input: readings.length, lost, accounting, recoveryMs, resumedMs, crashAttempts };
  } finally {
    acks.stop();
    services.kill();
    producer.kill('SIGKILL');
    redis.disconnect();
  }
}
