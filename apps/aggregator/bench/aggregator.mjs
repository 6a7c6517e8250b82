#!/usr/bin/env node
// Aggregator throughput beside a bare consumer-group loop on the same data, in the same run.
//   node apps/aggregator/bench/aggregator.mjs [readings=1000000]   (env BENCH_JSON=<file>: figures as JSON)
// Prints readings/s for: a bare XREADGROUP COUNT 1000 + one XACK per batch loop, and
// `pipe-aggregator run --drain` (a real process): its own figure from its start to the last hour published,
// the ratio's numerator, and the process's from spawn to exit; then the RU202-sized job end to end:
// 10 days x 1 reading/s (864,000 readings) written by `pipe-producer backfill` and drained by
// `pipe-aggregator run --drain`, both real processes, in seconds.
import { writeFile } from 'node:fs/promises';
import { encodeReading, PipelineKeys } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { backfill, checkAverages, drain, hoursSpanned } from './jobs.mjs';

const total = Number(process.argv[2] ?? 1_000_000);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const RU202 = { days: 10, readings: 864_000 };

async function write(redis, keys, from, count, stepMs, devices) {
  let pipeline = redis.pipeline();
  const touched = new Set();
  for (let i = 0; i < count; i++) {
    const ts = from + Math.floor(i / devices) * stepMs;
    const key = keys.partitionKeyFor(ts);
    touched.add(key);
    pipeline.xadd(
      key,
      '*',
      ...encodeReading({ device: `sensor-${i % devices}`, ts, temp_f: 50 + (i % 37) / 3 }),
    );
    if (pipeline.length >= 1000) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  for (const key of touched) pipeline.pexpire(key, 7 * DAY);
  await pipeline.exec();
  return [...touched];
}

async function bareLoop(redis, partitions) {
  for (const p of partitions) await redis.xgroup('CREATE', p, 'bare', '0');
  let n = 0;
  const started = performance.now();
  for (;;) {
    const reply = await redis.xreadgroup(
      'GROUP',
      'bare',
      'c1',
      'COUNT',
      1000,
      'STREAMS',
      ...partitions,
      ...partitions.map(() => '>'),
    );
    if (!reply) break;
    for (const [stream, entries] of reply) {
      n += entries.length;
      await redis.xack(stream, 'bare', ...entries.map(([id]) => id));
    }
  }
  return { n, seconds: (performance.now() - started) / 1000 };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const server = await RedisServer.start();
const redis = new Redis(server.url);
const connection = ['--redis-url', server.url];
try {
  const from = Math.floor(Date.now() / DAY) * DAY - DAY;
  const keys = new PipelineKeys('bench');
  console.log(`writing ${total} readings (10 devices, one day partition) ...`);
  const partitions = await write(redis, keys, from, total, 1000, 10);

  const bare = await bareLoop(redis, partitions);
  if (bare.n !== total) throw new Error(`the bare loop read ${bare.n} of ${total}`);
  const agg = await drain(connection, 'bench');
  const published = await checkAverages(
    redis,
    keys,
    total,
    hoursSpanned(from, from + (Math.ceil(total / 10) - 1) * 1000),
  );
  if (agg.counted !== total) throw new Error(`the aggregator counted ${agg.counted} of ${total}`);
  const bareRate = bare.n / bare.seconds;
  // Loop beside loop: the bare loop's time starts with its connection open, the aggregator's at its run.
  const aggRate = total / agg.drainSeconds;
  const processRate = total / agg.seconds;

  // The reference job stands alone, as the RU202 exercise runs: a server without the first job's data.
  // Whole hours, ending at the last full hour; a retention beyond 10 days so no partition expires on write;
  // --keep-hours 240 keeps every average so the check can count all of them.
  await redis.flushall();
  const ru = new PipelineKeys('ru202');
  const ruTo = Math.floor(Date.now() / HOUR) * HOUR;
  const ruFrom = ruTo - RU202.days * DAY;
  const written = await backfill(
    connection,
    'ru202',
    [
      ...['--devices', '1', '--interval', '1s', '--from', String(ruFrom), '--to', String(ruTo)],
      ...['--retention', `${RU202.days + 1}d`],
    ],
    RU202.readings,
  );
  const ruDrain = await drain(connection, 'ru202', ['--keep-hours', String(RU202.days * 24)]);
  const ruPublished = await checkAverages(redis, ru, RU202.readings, RU202.days * 24);

  const row = (name, rate, note = '') =>
    console.log(
      `${name.padEnd(44)} ${Math.round(rate).toLocaleString('en').padStart(10)} readings/s ${note}`,
    );
  console.log('');
  row('bare XREADGROUP COUNT 1000 + XACK per batch', bareRate, '(baseline)');
  row(
    'pipe-aggregator run --drain (its own figure)',
    aggRate,
    `ratio ${(aggRate / bareRate).toFixed(2)} (target >= 0.75); ${published.hours} hours published`,
  );
  row(
    'pipe-aggregator run --drain (process)',
    processRate,
    `ratio ${(processRate / bareRate).toFixed(2)}; Node start-up included, peak RSS ${mib(agg.peakRss)}`,
  );
  console.log('');
  console.log(
    `RU202-sized job: ${RU202.readings.toLocaleString('en')} readings (${RU202.days} days x 1/s): ` +
      `pipe-producer backfill ${written.seconds.toFixed(2)} s (peak RSS ${mib(written.peakRss)}), ` +
      `pipe-aggregator run --drain ${ruDrain.seconds.toFixed(2)} s (${ruPublished.hours} hours published, peak RSS ${mib(ruDrain.peakRss)}), ` +
      `total ${(written.seconds + ruDrain.seconds).toFixed(2)} s; RU202 reference ~230 s, target < 8 s (drain)`,
  );

  if (process.env.BENCH_JSON) {
    const figures = {
      consumption: {
        readings: total,
        bare: { seconds: bare.seconds },
        aggregator: {
          seconds: agg.seconds,
          drainSeconds: agg.drainSeconds,
          peakRss: agg.peakRss,
          hours: published.hours,
        },
      },
      endToEnd: {
        readings: RU202.readings,
        days: RU202.days,
        backfill: { seconds: written.seconds, peakRss: written.peakRss, summary: written.summary },
        drain: {
          seconds: ruDrain.seconds,
          drainSeconds: ruDrain.drainSeconds,
          peakRss: ruDrain.peakRss,
          hours: ruPublished.hours,
        },
      },
    };
    await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
  }
} finally {
  redis.disconnect();
  await server.stop();
}
