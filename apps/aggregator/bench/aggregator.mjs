#!/usr/bin/env node
// Aggregator throughput beside a bare consumer-group loop on the same data, in the same run.
//   node apps/aggregator/bench/aggregator.mjs [readings=1000000]   (env BENCH_JSON=<file>: figures as JSON)
// Prints readings/s for: a bare XREADGROUP COUNT 1000 + one XACK per batch loop, and
// `pipe-aggregator run --drain` (a real process): its own figure from its start to the last hour published,
// the ratio's numerator, and the process's from spawn to exit; then the RU202-sized job end to end:
// 10 days x 1 reading/s (864,000 readings) written by `pipe-producer backfill` and drained by
// `pipe-aggregator run --drain`, both real processes, in seconds; then the cost of --wait-replicas: a
// smaller job of the same shape (3 days x 1 reading/s, 259,200 readings, 72 hours) written by
// `pipe-producer backfill` to a master with one replica (`redis-server --replicaof`) and drained with the
// default (no WAIT) and with `--wait-replicas 1` (WAITs around each hour it closes), each twice in the
// order default, wait, wait, default, keeping the faster of each (by the drain's own figure).
import { writeFile } from 'node:fs/promises';
import { encodeReading, PipelineKeys } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { backfill, bareLoop, checkAverages, drain, hoursSpanned } from './jobs.mjs';
import { replicaCaughtUp, waitCalls } from '../../../scripts/bench/replica.mjs';

const total = Number(process.argv[2] ?? 1_000_000);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const RU202 = { days: 10, readings: 864_000 };
const REPLICATED = { days: 3, readings: 259_200 };

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

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const server = await RedisServer.start();
const redis = new Redis(server.url);
const connection = ['--redis-url', server.url];
let master;
let replica;
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

  // --wait-replicas: a smaller reference-shaped job on a master with one replica, drained without and with
  // WAITs. Written once by backfill under its own prefix; each drain gets a server-side COPY of those
  // streams under a prefix of its own (the same data, without a backfill per round).
  await redis.flushall();
  const replicatedStarted = performance.now();
  master = await RedisServer.start();
  replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const masterRedis = new Redis(master.url);
  const replicaRedis = new Redis(replica.url);
  const replicated = { default: undefined, wait: undefined };
  const runs = { default: [], wait: [] };
  try {
    const hours = REPLICATED.days * 24;
    await backfill(
      ['--redis-url', master.url],
      'replsrc',
      [
        ...['--devices', '1', '--interval', '1s'],
        ...['--from', String(ruTo - REPLICATED.days * DAY), '--to', String(ruTo)],
        ...['--retention', `${REPLICATED.days + 1}d`],
      ],
      REPLICATED.readings,
    );
    const source = (await masterRedis.keys('replsrc:*')).filter((k) => /^replsrc:\d{8}$/.test(k));
    const modes = ['default', 'wait', 'wait', 'default'];
    for (const [round, mode] of modes.entries()) {
      const prefix = `repl${round + 1}`;
      for (const key of source) await masterRedis.copy(key, key.replace('replsrc', prefix));
      // Each drain starts with the replica holding everything written so far.
      await replicaCaughtUp(masterRedis, replicaRedis);
      await masterRedis.config('RESETSTAT');
      const run = await drain(['--redis-url', master.url], prefix, [
        ...['--keep-hours', String(hours)],
        ...(mode === 'wait' ? ['--wait-replicas', '1'] : []),
      ]);
      const waits = await waitCalls(masterRedis);
      await checkAverages(masterRedis, new PipelineKeys(prefix), REPLICATED.readings, hours);
      if (mode === 'wait' && waits < hours)
        throw new Error(`drain --wait-replicas 1 sent ${waits} WAITs for ${hours} hours`);
      if (mode === 'default' && waits !== 0)
        throw new Error(`drain without --wait-replicas sent ${waits} WAITs`);
      runs[mode].push(Math.round(REPLICATED.readings / run.drainSeconds));
      if (!replicated[mode] || run.drainSeconds < replicated[mode].drainSeconds)
        replicated[mode] = {
          seconds: run.seconds,
          drainSeconds: run.drainSeconds,
          peakRss: run.peakRss,
          waits,
        };
    }
  } finally {
    masterRedis.disconnect();
    replicaRedis.disconnect();
  }
  const replicatedSeconds = (performance.now() - replicatedStarted) / 1000;

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
  const replRate = (r) => REPLICATED.readings / r.drainSeconds;
  console.log('');
  console.log(
    `--wait-replicas: ${REPLICATED.readings.toLocaleString('en')} readings (${REPLICATED.days} days x 1/s, ` +
      `${REPLICATED.days * 24} hours) drained on a master with one replica, best of 2 each ` +
      `(the backfill and the four drains took ${replicatedSeconds.toFixed(0)} s):`,
  );
  row(
    'drain, master + 1 replica, default',
    replRate(replicated.default),
    `(its own figure; process ${replicated.default.seconds.toFixed(2)} s)`,
  );
  row(
    'drain, master + 1 replica, --wait-replicas 1',
    replRate(replicated.wait),
    `(its own figure; process ${replicated.wait.seconds.toFixed(2)} s; ${replicated.wait.waits} WAITs)`,
  );
  console.log(
    `--wait-replicas 1 / default: ${(replRate(replicated.wait) / replRate(replicated.default)).toFixed(2)} (own figures), ` +
      `${(replicated.default.seconds / replicated.wait.seconds).toFixed(2)} (processes); every run's own figure: ` +
      `default ${runs.default.join(' / ')}, wait ${runs.wait.join(' / ')}; ` +
      `the drains on one server: ${Math.round(aggRate).toLocaleString('en')} readings/s beside the bare loop's ` +
      `${Math.round(bareRate).toLocaleString('en')} (above)`,
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
      // A 3-day job of the reference's shape drained on a master with one replica, best of 2 each (by drainSeconds).
      replicated: {
        readings: REPLICATED.readings,
        days: REPLICATED.days,
        hours: REPLICATED.days * 24,
        rounds: 2,
        default: replicated.default,
        waitReplicas1: replicated.wait,
        runs,
      },
    };
    await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
  }
} finally {
  redis.disconnect();
  await server.stop();
  await replica?.stop();
  await master?.stop();
}
