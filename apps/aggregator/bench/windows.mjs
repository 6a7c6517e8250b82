#!/usr/bin/env node
// Windows and per-device results beside the bare consumer-group loop, in the same run, on one server:
//   node apps/aggregator/bench/windows.mjs [devices=10000] [minutes=5]   (env BENCH_JSON=<file>: figures as JSON)
// Two data sets (each device one reading every 10 s, with humidity, for `minutes` minutes of one UTC
// day; then each one a second for WINDOWS_DENSE_MINUTES=2, the fleet --keep's defaults are sized for),
// each written once and copied server-side (COPY) for each consumer: the bare XREADGROUP COUNT 1000 +
// XACK loop (as aggregator.mjs measures it), `pipe-aggregator run --drain` with the default layout
// (fleet 1h only) and with `--windows 1m,1h,1d --per-device`, each a real process, rates from the
// drain's own figure; the bare loop and the default drain twice (before and after), the faster kept.
// Sparse readings cost more per reading: a device result for every 6 readings of 1m windows. Then Redis
// memory, measured: per stored per-device result (used_memory before and after deleting every device
// stream, beside MEMORY USAGE of the streams), per device in the index, and per
// reading while windows are open (a live `run --grace 1h` that has counted readings of the last minutes
// and closed nothing: MEMORY USAGE of the partition's companion keys).
import { writeFile } from 'node:fs/promises';
import { PipelineKeys } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import {
  copyTo,
  deviceResultsMemory,
  MARGINAL_RESULTS,
  openWindowMemory,
  writeReadings,
} from './device-memory.mjs';
import { bareLoop, drain } from './jobs.mjs';

const devices = Number(process.argv[2] ?? 10_000);
const minutes = Number(process.argv[3] ?? 5);
/** Minutes of the second data set, each device one reading a second (env WINDOWS_DENSE_MINUTES). */
const denseMinutes = Number(process.env.WINDOWS_DENSE_MINUTES ?? 2);
const STEP_MS = 10_000;
const DAY = 86_400_000;
const write = (redis, keys, from) => writeReadings(redis, keys, { devices, minutes, from, stepMs: STEP_MS });

/**
 * The machine is shared: the bare loop and the default drain run twice, around the long drain (bare,
 * default, windows, default, bare), each on its own server-side copy of the data, and each keeps its
 * faster run; every run is printed. Each drain must count every reading.
 */
async function drainRounds(partitions, sourceKeys, readings, tag) {
  const bareRuns = [];
  const fleetRuns = [];
  const bareOnce = async (round) => {
    const run = await bareLoop(redis, await copyTo(redis, partitions, sourceKeys, `${tag}bare${round}`));
    if (run.n !== readings) throw new Error(`the bare loop read ${run.n} of ${readings}`);
    bareRuns.push(run);
  };
  const fleetOnce = async (round) => {
    await copyTo(redis, partitions, sourceKeys, `${tag}dflt${round}`);
    const run = await drain(connection, `${tag}dflt${round}`);
    if (run.counted !== readings) throw new Error(`the default drain counted ${run.counted} of ${readings}`);
    fleetRuns.push(run);
  };
  await bareOnce(1);
  await fleetOnce(1);
  await copyTo(redis, partitions, sourceKeys, `${tag}win`);
  const windows = await drain(connection, `${tag}win`, ['--windows', '1m,1h,1d', '--per-device']);
  if (windows.counted !== readings)
    throw new Error(`the windows drain counted ${windows.counted} of ${readings}`);
  await fleetOnce(2);
  await bareOnce(2);
  const bare = bareRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const fleet = fleetRuns.reduce((a, b) => (b.drainSeconds < a.drainSeconds ? b : a));
  return { readings, bare, bareRuns, fleet, fleetRuns, windows };
}

const server = await RedisServer.start();
const redis = new Redis(server.url);
const connection = ['--redis-url', server.url];
try {
  const started = performance.now();
  const sourceKeys = new PipelineKeys('src');
  // Yesterday 12:00 UTC: every window of the drain is over, inside one day partition.
  const from = Math.floor(Date.now() / DAY) * DAY - DAY / 2;
  console.log(`writing ${devices} devices x ${minutes} min, one reading every ${STEP_MS / 1000} s ...`);
  const { partitions, readings, deviceWindows: expectedResults } = await write(redis, sourceKeys, from);

  const sparse = await drainRounds(partitions, sourceKeys, readings, '');
  const { bare, bareRuns, fleet, fleetRuns, windows } = sparse;
  const winKeys = new PipelineKeys('win');
  const memory = await deviceResultsMemory(redis, winKeys, devices);
  if (memory.results !== expectedResults)
    throw new Error(`the drain stored ${memory.results} device results, expected ${expectedResults}`);

  // The fleet --keep's defaults are sized for: each device one reading a second. A finest window then
  // holds 60 readings of a device rather than 6, and device results are fewer per reading.
  await redis.flushall();
  console.log(`writing ${devices} devices x ${denseMinutes} min, one reading every second ...`);
  const dense = await writeReadings(redis, sourceKeys, {
    devices,
    minutes: denseMinutes,
    from,
    stepMs: 1_000,
  });
  const denseRounds = await drainRounds(dense.partitions, sourceKeys, dense.readings, 'dense');

  // The open windows: readings of the last minutes, counted by a live aggregator that closes nothing yet.
  await redis.flushall();
  const now = Date.now();
  const liveFrom = Math.max(Math.floor(now / DAY) * DAY, now - minutes * 60_000);
  const live = await write(redis, sourceKeys, liveFrom);
  const open = await openWindowMemory(redis, server.url, live.partitions, sourceKeys, live);

  const rows = (r, title) => {
    const bareRate = r.bare.n / r.bare.seconds;
    const rate = (run) => r.readings / run.drainSeconds;
    const row = (name, value, note = '') =>
      console.log(
        `${name.padEnd(52)} ${Math.round(value).toLocaleString('en').padStart(10)} readings/s ${note}`,
      );
    console.log('');
    console.log(title);
    row(
      'bare XREADGROUP COUNT 1000 + XACK per batch',
      bareRate,
      `(baseline; best of ${r.bareRuns.map((b) => Math.round(r.readings / b.seconds)).join(' / ')})`,
    );
    row(
      'drain, default (fleet 1h only)',
      rate(r.fleet),
      `ratio ${(rate(r.fleet) / bareRate).toFixed(2)} (target >= 0.85; best of ${r.fleetRuns.map((f) => Math.round(rate(f))).join(' / ')})`,
    );
    row(
      'drain, --windows 1m,1h,1d --per-device',
      rate(r.windows),
      `ratio ${(rate(r.windows) / bareRate).toFixed(2)} (target >= 0.6)`,
    );
  };
  rows(
    sparse,
    `${readings.toLocaleString('en')} readings of ${devices.toLocaleString('en')} devices over ${minutes} min, ` +
      `each one every ${STEP_MS / 1000} s (one UTC day); ${memory.results.toLocaleString('en')} device results:`,
  );
  rows(
    denseRounds,
    `${dense.readings.toLocaleString('en')} readings of ${devices.toLocaleString('en')} devices over ${denseMinutes} min, ` +
      `each one every second (the fleet --keep's defaults are sized for):`,
  );
  console.log('');
  console.log(
    `Redis memory per stored per-device result: ${memory.perResultSteady.toFixed(1)} B in a stream that holds many ` +
      `(used_memory growth for ${MARGINAL_RESULTS} more results in each of 1,000 device 1m streams), plus ` +
      `${memory.perStream.toFixed(0)} B per device stream (key, stream and expiry); this run's young streams: ` +
      `${memory.perResult.toFixed(1)} B per result all in (used_memory freed by deleting ${memory.streams.toLocaleString('en')} ` +
      `streams / ${memory.results.toLocaleString('en')} results; MEMORY USAGE ${memory.usagePerEntry.toFixed(1)} B per entry ` +
      `over 300 streams); the index ${memory.indexPerDevice.toFixed(1)} B per device`,
  );
  console.log(
    `Redis memory while windows are open (1m,1h,1d, per device): ${open.perReading.toFixed(1)} B per reading at one ` +
      `reading per device every ${STEP_MS / 1000} s, ${open.perDeviceWindow.toFixed(0)} B per ` +
      `open device window (MEMORY USAGE of ${open.windowKeys} open window hashes; ${live.readings.toLocaleString('en')} readings, ` +
      `${live.deviceWindows.toLocaleString('en')} device windows), beside each reading in its partition`,
  );
  console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);

  if (process.env.BENCH_JSON) {
    await writeFile(
      process.env.BENCH_JSON,
      JSON.stringify(
        {
          devices,
          minutes,
          readings,
          bare: { seconds: bare.seconds, runs: bareRuns.map((r) => r.seconds) },
          default: {
            seconds: fleet.seconds,
            drainSeconds: fleet.drainSeconds,
            peakRss: fleet.peakRss,
            runs: fleetRuns.map((r) => r.drainSeconds),
          },
          windowsPerDevice: {
            seconds: windows.seconds,
            drainSeconds: windows.drainSeconds,
            peakRss: windows.peakRss,
          },
          dense: {
            minutes: denseMinutes,
            readings: dense.readings,
            bare: { seconds: denseRounds.bare.seconds },
            default: { drainSeconds: denseRounds.fleet.drainSeconds },
            windowsPerDevice: { drainSeconds: denseRounds.windows.drainSeconds },
          },
          memory: {
            ...memory,
            openWindowBytesPerReading: open.perReading,
            openStateBytesPerReading: open.allState,
          },
        },
        null,
        2,
      ),
    );
  }
} finally {
  redis.disconnect();
  await server.stop();
}
