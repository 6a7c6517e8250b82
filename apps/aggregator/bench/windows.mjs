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
import { encodeReading, PipelineKeys } from '@pipe/streams';
import { RedisServer, sleep, startNode } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { bareLoop, drain } from './jobs.mjs';

const devices = Number(process.argv[2] ?? 10_000);
const minutes = Number(process.argv[3] ?? 5);
const STEP_MS = 10_000;
const DAY = 86_400_000;
const aggregatorMain = new URL('../dist/main.js', import.meta.url).pathname;

/** Each device one reading every STEP_MS from `from` for `minutes`; returns the partition keys and count. */
async function write(redis, keys, from) {
  let pipeline = redis.pipeline();
  const touched = new Set();
  // Each device's windows of 1m, 1h and 1d that the readings fall in.
  const deviceWindows = new Set();
  let n = 0;
  for (let t = from; t < from + minutes * 60_000; t += STEP_MS) {
    for (let d = 0; d < devices; d++) {
      const ts = t + (d % STEP_MS);
      const key = keys.partitionKeyFor(ts);
      touched.add(key);
      const temp_f = 50 + ((d * 7 + ts / 1000) % 37) / 3;
      pipeline.xadd(key, '*', ...encodeReading({ device: `dev-${d}`, ts, temp_f, humidity: 30 + (d % 40) }));
      n++;
      for (const size of [60_000, 3_600_000, DAY]) deviceWindows.add(`${d}:${size}:${Math.floor(ts / size)}`);
      if (pipeline.length >= 2000) {
        await pipeline.exec();
        pipeline = redis.pipeline();
      }
    }
  }
  for (const key of touched) pipeline.pexpire(key, 7 * DAY);
  await pipeline.exec();
  return { partitions: [...touched], readings: n, deviceWindows: deviceWindows.size };
}

async function copyTo(redis, source, sourceKeys, prefix) {
  const target = new PipelineKeys(prefix);
  const out = [];
  for (const key of source) {
    const copy = target.partitionKeyFor(sourceKeys.parsePartitionKey(key));
    await redis.copy(key, copy);
    out.push(copy);
  }
  return out;
}

async function scanAll(redis, match) {
  const found = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

async function usedMemory(redis) {
  // Twice, a moment apart: the allocator's figure settles after a large delete.
  await sleep(200);
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)[1]);
}

/** Bytes that deleting `keys` frees (used_memory before minus after). */
async function freedBy(redis, keys) {
  const before = await usedMemory(redis);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return before - (await usedMemory(redis));
}

async function memoryUsage(redis, keys) {
  let bytes = 0;
  for (const key of keys) bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
  return bytes;
}

/** Device streams of a drain: their keys, the results they hold, and what they cost. */
async function deviceResultsMemory(redis, keys) {
  const streams = await scanAll(redis, keys.patterns.deviceWindows);
  let results = 0;
  for (const key of streams) results += await redis.xlen(key);
  const sample = streams.slice(0, 300);
  let sampled = 0;
  for (const key of sample) sampled += await redis.xlen(key);
  const usage = await memoryUsage(redis, sample);
  const marginal = await marginalPerResult(redis, streams.filter((k) => k.endsWith(':1m')).slice(0, 1000));
  const freed = await freedBy(redis, streams);
  const index = await freedBy(redis, [keys.devicesIndex, keys.devicesLatest]);
  // The streams as the drain left them: what deleting them freed, less the results added since.
  const young = freed - marginal.perResult * marginal.added;
  return {
    streams: streams.length,
    results,
    perResult: young / results,
    perResultSteady: marginal.perResult,
    perStream: (young - marginal.perResult * results) / streams.length,
    usagePerEntry: usage / sampled,
    indexPerDevice: index / devices,
  };
}

/**
 * What one more result costs a device stream that holds many (the steady state of a tier, which a
 * few minutes of data do not reach): each stream gets MARGINAL_RESULTS more entries shaped as the
 * aggregator's (its newest entry's fields, the next windows' IDs), and used_memory grows by that much.
 */
const MARGINAL_RESULTS = 250;
async function marginalPerResult(redis, streams) {
  const before = await usedMemory(redis);
  let pipeline = redis.pipeline();
  for (const key of streams) {
    const [[id, fields]] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
    const start = Number(id.split('-')[0]);
    for (let i = 1; i <= MARGINAL_RESULTS; i++) pipeline.xadd(key, `${start + i * 60_000}-0`, ...fields);
    if (pipeline.length >= 5000) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
  const added = streams.length * MARGINAL_RESULTS;
  return { added, perResult: ((await usedMemory(redis)) - before) / added };
}

/** A live aggregator that counts and closes nothing (grace 1h): the memory of its open windows. */
async function openWindowMemory(redis, url, source, sourceKeys, readings) {
  const prefix = 'open';
  const keys = new PipelineKeys(prefix);
  const partitions = await copyTo(redis, source, sourceKeys, prefix);
  const run = startNode(
    aggregatorMain,
    [
      'run',
      '--redis-url',
      url,
      '--prefix',
      prefix,
      '--windows',
      '1m,1h,1d',
      '--per-device',
      '--grace',
      '1h',
      '--idle-close',
      '1h',
      '--log-level',
      'warn',
    ],
    { env: { PIPE_PRETTY_LOGS: '0' } },
  );
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      let counted = 0;
      for (const p of partitions) {
        const groups = await redis.xinfo('GROUPS', p).catch(() => []);
        const group = groups.map((g) => Object.fromEntries(chunk(g))).find((g) => g.name === 'aggregator');
        if (group && Number(group.pending) === 0) counted += Number(group['entries-read'] ?? 0);
      }
      if (counted >= readings) break;
      if (Date.now() > deadline)
        throw new Error(`the live aggregator counted ${counted} of ${readings} in 120 s`);
      await sleep(250);
    }
    const published = await redis.xlen(keys.averages);
    if (published !== 0) throw new Error(`the live aggregator published ${published} hours with --grace 1h`);
    const state = [];
    for (const p of partitions) state.push(...(await scanAll(redis, keys.companionKey(p, '*'))));
    const open = state.filter((k) => /:(win|hour):/.test(k));
    return {
      perReading: (await memoryUsage(redis, open)) / readings,
      stateKeys: state.length,
      windowKeys: open.length,
      allState: (await memoryUsage(redis, state)) / readings,
    };
  } finally {
    run.kill('SIGTERM');
    await run.exited;
  }
}

function chunk(flat) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
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
  const memory = await deviceResultsMemory(redis, winKeys);
  if (memory.results !== expectedResults)
    throw new Error(`the drain stored ${memory.results} device results, expected ${expectedResults}`);

  // The open windows: readings of the last minutes, counted by a live aggregator that closes nothing yet.
  await redis.flushall();
  const now = Date.now();
  const liveFrom = Math.max(Math.floor(now / DAY) * DAY, now - minutes * 60_000);
  const live = await write(redis, sourceKeys, liveFrom);
  const open = await openWindowMemory(redis, server.url, live.partitions, sourceKeys, live.readings);

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
  const openWindows = live.deviceWindows;
  console.log(
    `Redis memory while windows are open (1m,1h,1d, per device): ${open.perReading.toFixed(1)} B per reading at one ` +
      `reading per device every ${STEP_MS / 1000} s, ${((open.perReading * live.readings) / openWindows).toFixed(0)} B per ` +
      `open device window (MEMORY USAGE of ${open.windowKeys} open window hashes; ${live.readings.toLocaleString('en')} readings, ` +
      `${openWindows.toLocaleString('en')} device windows), beside each reading in its partition`,
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
