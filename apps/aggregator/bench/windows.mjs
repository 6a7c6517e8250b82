#!/usr/bin/env node
// Windows and per-device results beside the bare consumer-group loop, in the same run, on one server:
//   node apps/aggregator/bench/windows.mjs [devices=10000] [minutes=5]   (env BENCH_JSON=<file>: figures as JSON)
// One data set (each device one reading every 10 s, with humidity, for `minutes` minutes of one UTC day)
// written once and copied server-side (COPY) for each consumer: the bare XREADGROUP COUNT 1000 + XACK
// loop (as aggregator.mjs measures it), `pipe-aggregator run --drain` with the default layout (fleet 1h
// only) and with `--windows 1m,1h,1d --per-device`, each a real process, rates from the drain's own
// figure; the bare loop and the default drain twice (before and after), the faster kept. Then Redis
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
const STEP_MS = 10_000;
const DAY = 86_400_000;
const write = (redis, keys, from) => writeReadings(redis, keys, { devices, minutes, from, stepMs: STEP_MS });

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

  // The machine is shared: the bare loop and the default drain run twice, around the long drain
  // (bare, default, windows, default, bare), and each keeps its faster run; every run is printed.
  const bareRuns = [];
  const fleetRuns = [];
  const bareOnce = async (round) => {
    const run = await bareLoop(redis, await copyTo(redis, partitions, sourceKeys, `bare${round}`));
    if (run.n !== readings) throw new Error(`the bare loop read ${run.n} of ${readings}`);
    bareRuns.push(run);
  };
  const fleetOnce = async (round) => {
    await copyTo(redis, partitions, sourceKeys, `dflt${round}`);
    const run = await drain(connection, `dflt${round}`);
    if (run.counted !== readings) throw new Error(`the default drain counted ${run.counted} of ${readings}`);
    fleetRuns.push(run);
  };
  await bareOnce(1);
  await fleetOnce(1);
  await copyTo(redis, partitions, sourceKeys, 'win');
  const windows = await drain(connection, 'win', ['--windows', '1m,1h,1d', '--per-device']);
  if (windows.counted !== readings)
    throw new Error(`the windows drain counted ${windows.counted} of ${readings}`);
  await fleetOnce(2);
  await bareOnce(2);
  const bare = bareRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const fleet = fleetRuns.reduce((a, b) => (b.drainSeconds < a.drainSeconds ? b : a));
  const winKeys = new PipelineKeys('win');
  const memory = await deviceResultsMemory(redis, winKeys, devices);
  if (memory.results !== expectedResults)
    throw new Error(`the drain stored ${memory.results} device results, expected ${expectedResults}`);

  // The open windows: readings of the last minutes, counted by a live aggregator that closes nothing yet.
  await redis.flushall();
  const now = Date.now();
  const liveFrom = Math.max(Math.floor(now / DAY) * DAY, now - minutes * 60_000);
  const live = await write(redis, sourceKeys, liveFrom);
  const open = await openWindowMemory(redis, server.url, live.partitions, sourceKeys, live);

  const bareRate = bare.n / bare.seconds;
  const rate = (run) => readings / run.drainSeconds;
  const row = (name, r, note = '') =>
    console.log(`${name.padEnd(52)} ${Math.round(r).toLocaleString('en').padStart(10)} readings/s ${note}`);
  console.log('');
  console.log(
    `${readings.toLocaleString('en')} readings of ${devices.toLocaleString('en')} devices over ${minutes} min (one UTC day):`,
  );
  row(
    'bare XREADGROUP COUNT 1000 + XACK per batch',
    bareRate,
    `(baseline; best of ${bareRuns.map((r) => Math.round(readings / r.seconds)).join(' / ')})`,
  );
  row(
    'drain, default (fleet 1h only)',
    rate(fleet),
    `ratio ${(rate(fleet) / bareRate).toFixed(2)} (target >= 0.85; best of ${fleetRuns.map((r) => Math.round(rate(r))).join(' / ')})`,
  );
  row(
    'drain, --windows 1m,1h,1d --per-device',
    rate(windows),
    `ratio ${(rate(windows) / bareRate).toFixed(2)} (target >= 0.6); ${memory.results.toLocaleString('en')} device results`,
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
