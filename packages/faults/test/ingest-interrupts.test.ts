import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  prng,
  readingsBetween,
  runProducer,
  startAggregator,
  startProducer,
  summaryOf,
} from '@pipe/fixtures';
import { connect, HOUR_MS } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { expect, it } from 'vitest';
import { expectEachCountedOnce, landedReadings, missingFromInput } from '../src/accounting.js';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();

const INTERRUPTIONS = 20;

it('producer ingest interrupted 20 times (SIGINT and kill -9) and re-run each time: every reading lands once', async () => {
  const server = await startServer();
  const target = targetOn(server.url, 'interrupted');
  const redis = connect({ url: server.url });
  const dir = await mkdtemp(join(tmpdir(), 'faults-interrupted-'));
  try {
    // 20 devices every 4 s over 11 h: 198,000 readings (the last hour left out: it is still running).
    const now = Date.now();
    const readings = readingsBetween(now - 12 * HOUR_MS, now - HOUR_MS, 4000, 20, 41);
    const file = join(dir, 'readings.ndjson');
    await writeFile(file, `${readings.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const ingest = ['ingest', ...target.flags, '--file', file, '--json'];

    // Each run is stopped at a random moment of its own (seeded): a SIGINT lets it write what it read,
    // a kill -9 leaves batches in flight landed or not. Every re-run starts from the first line.
    const random = prng(7);
    const outcomes: string[] = [];
    for (let i = 0; i < INTERRUPTIONS; i++) {
      const run = startProducer(ingest);
      await sleep(300 + random() * 1500);
      const signal = i % 2 === 0 ? 'SIGINT' : 'SIGKILL';
      run.kill(signal);
      const { code } = await run.exited;
      outcomes.push(`${signal}:${code}`);
    }
    const last = await runProducer(ingest);
    expect(last.code, last.stderr).toBe(0);
    const summary = summaryOf(last);
    expect(summary.rejected).toBe(0);

    const landed = await landedReadings(redis, target.keys);
    expect(missingFromInput(readings, landed)).toEqual([]);
    expect(landed).toHaveLength(readings.length);
    const drain = await startAggregator(['run', '--drain', ...target.flags]).exited;
    expect(drain.code, drain.stderr).toBe(0);
    const accounting = await expectEachCountedOnce(redis, target.keys, readings);
    expect(accounting.late).toBe(0);
    console.log(
      `interrupted ingest: ${readings.length} readings, runs ended ${outcomes.join(' ')}; ` +
        `the last run wrote ${summary.readings} and found ${summary.alreadyPresent} already present; ` +
        `counted ${accounting.counted} into ${accounting.hours} hours`,
    );
  } finally {
    redis.disconnect();
  }
}, 300_000);
