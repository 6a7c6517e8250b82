#!/usr/bin/env node
// Producer benchmark (a script, not a test): 1,000,000 readings through the producer's own write path,
// beside two baselines measured in the same run on the same fresh redis-server:
//   1. redis-benchmark -P 128 -n 1000000 -r 100000 XADD bench:__rand_int__ * temp_f 50
//   2. a bare ioredis pipeline, 1000 XADDs per round trip, of the same readings the producer writes
// then the producer two ways: `pipe-producer ingest` of an NDJSON file (the CLI: parse, validate,
// write) and PartitionWriter directly (the write path alone). Prints readings/s and the ratios.
// Then the cost of --wait-replicas: the first half of the same readings (500,000 by default) in an NDJSON
// file ingested by the CLI on a master with one replica (`redis-server --replicaof`), with the default
// (no WAIT) and with `--wait-replicas 1` (a WAIT after each batch), each twice in the order default, wait,
// wait, default, keeping the faster of each.
// Usage: node bench/producer.mjs [readings]   (build first: pnpm exec turbo run build --filter=@pipe/producer...)
// With env BENCH_JSON=<file> it also writes its figures there as JSON (for `pnpm bench`'s report).
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PipelineKeys } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { PartitionWriter } from '../dist/partition-writer.js';
import { replicaCaughtUp, waitCalls } from '../../../scripts/bench/replica.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const DEVICES = 100;
const main = new URL('../dist/main.js', import.meta.url).pathname;
const run = promisify(execFile);

/** The readings every contender writes: DEVICES devices, one reading each per 10 ms step, ending now. */
function reading(i) {
  const start = Date.now() - Math.ceil(N / DEVICES) * 10 - 60_000;
  return {
    device: `sensor-${String((i % DEVICES) + 1).padStart(3, '0')}`,
    ts: start + Math.floor(i / DEVICES) * 10,
    temp_f: Math.round((60 + 20 * Math.sin(i / 5000)) * 100) / 100,
    humidity: 40 + (i % 50) / 2,
  };
}
const readings = Array.from({ length: N }, (_, i) => reading(i));
const REPLICATED = Math.ceil(N / 2);

/** An NDJSON file of these readings, one per line. */
async function writeNdjson(file, list) {
  const out = createWriteStream(file);
  for (const r of list)
    if (!out.write(`${JSON.stringify(r)}\n`)) await new Promise((resolve) => out.once('drain', resolve));
  await new Promise((resolve) => out.end(resolve));
}

/** `pipe-producer ingest --json` of `file` to its exit: its summary (its rate excludes start-up) and wall seconds. */
async function runIngest(file, expected, url, flags = []) {
  const t = performance.now();
  const child = spawn(
    process.execPath,
    [main, 'ingest', '--file', file, '--redis-url', url, '--prefix', 'bench', '--json', ...flags],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let summaryText = '';
  child.stdout.on('data', (chunk) => {
    summaryText += chunk;
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  const wall = (performance.now() - t) / 1000;
  if (code !== 0) throw new Error(`ingest exited ${code}: ${summaryText}`);
  const summary = JSON.parse(summaryText.trim().split('\n').pop());
  if (summary.readings !== expected) throw new Error(`ingest wrote ${summary.readings} of ${expected}`);
  return { summary, wall };
}

const server = await RedisServer.start();
const redis = new Redis(server.url);
const dir = await mkdtemp(join(tmpdir(), 'producer-bench-'));
let master;
let replica;
const results = [];
const report = (name, perSecond, note = '') => {
  results.push(perSecond);
  console.log(`${name.padEnd(44)} ${String(Math.round(perSecond)).padStart(9)} readings/s ${note}`);
};

try {
  console.log(
    `producer bench: ${N} readings, redis-server ${(await redis.info('server')).match(/redis_version:(\S+)/)[1]} on port ${server.port}\n`,
  );

  // 1. redis-benchmark, 128 commands per round trip, 100,000 random stream keys.
  await redis.flushall();
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-p',
      String(server.port),
      '-P',
      '128',
      '-n',
      String(N),
      '-r',
      '100000',
      '-q',
      'XADD',
      'bench:__rand_int__',
      '*',
      'temp_f',
      '50',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const rps = Number(/([\d.]+) requests per second/.exec(stdout)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`could not read redis-benchmark output: ${stdout.slice(-500)}`);
  report('redis-benchmark -P 128 XADD', rps);

  // 2. Bare ioredis pipeline of 1000 XADDs, same readings, into their daily partitions.
  await redis.flushall();
  const keys = new PipelineKeys('bench');
  const partitionOf = readings.map((r) => keys.partitionKeyFor(r.ts)); // outside the clock: a bare baseline
  let t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(i + 1000, N); j++) {
      const r = readings[j];
      pipeline.xadd(
        partitionOf[j],
        '*',
        'device',
        r.device,
        'ts',
        String(r.ts),
        'temp_f',
        String(r.temp_f),
        'humidity',
        String(r.humidity),
      );
    }
    await pipeline.exec();
  }
  report('bare ioredis pipeline (1000 XADDs)', N / ((performance.now() - t) / 1000));

  // 3. The producer's CLI: ingest of an NDJSON file (written before the clock starts).
  await redis.flushall();
  const file = join(dir, 'readings.ndjson');
  await writeNdjson(file, readings);
  const { summary, wall } = await runIngest(file, N, server.url);
  report(
    'pipe-producer ingest (NDJSON, CLI)',
    summary.readingsPerSecond,
    `(${Math.round(N / wall)}/s with process start)`,
  );

  // 4. PartitionWriter directly: the write path alone, as backfill and run use it.
  await redis.flushall();
  const writerRedis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const writer = new PartitionWriter(writerRedis, keys, {
    retentionMs: 2 * 86_400_000,
    idFromTime: false,
    giveUpAfterMs: 60_000,
  });
  await writer.start();
  t = performance.now();
  for (let i = 0; i < N; i += 1000)
    await writer.write(readings.slice(i, i + 1000).map((r) => ({ reading: r, source: undefined })));
  await writer.flush();
  report('PartitionWriter.write (1000 per batch)', N / ((performance.now() - t) / 1000));
  writerRedis.disconnect();
  if (writer.stats.written !== N) throw new Error(`writer wrote ${writer.stats.written} of ${N}`);

  // 5. --wait-replicas: half the readings ingested on a master with one replica, default and with a WAIT per batch.
  await redis.flushall();
  const replicatedStarted = performance.now();
  const halfFile = join(dir, 'half.ndjson');
  await writeNdjson(halfFile, readings.slice(0, REPLICATED));
  master = await RedisServer.start();
  replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const masterRedis = new Redis(master.url);
  const replicaRedis = new Redis(replica.url);
  const replicated = { default: { rate: 0, waits: 0 }, wait: { rate: 0, waits: 0 } };
  const runs = { default: [], wait: [] };
  try {
    for (const mode of ['default', 'wait', 'wait', 'default']) {
      await masterRedis.flushall();
      await replicaCaughtUp(masterRedis, replicaRedis);
      await masterRedis.config('RESETSTAT');
      const { summary: s } = await runIngest(
        halfFile,
        REPLICATED,
        master.url,
        mode === 'wait' ? ['--wait-replicas', '1'] : [],
      );
      const waits = await waitCalls(masterRedis);
      if (mode === 'wait' && waits === 0) throw new Error('ingest --wait-replicas 1 sent no WAIT');
      if (mode === 'default' && waits !== 0)
        throw new Error(`ingest without --wait-replicas sent ${waits} WAITs`);
      runs[mode].push(s.readingsPerSecond);
      if (s.readingsPerSecond > replicated[mode].rate)
        replicated[mode] = { rate: s.readingsPerSecond, waits };
    }
  } finally {
    masterRedis.disconnect();
    replicaRedis.disconnect();
  }

  const replicatedSeconds = (performance.now() - replicatedStarted) / 1000;
  const [bench, bare, ingest, direct] = results;
  const waitCost = replicated.wait.rate / replicated.default.rate;
  console.log('');
  console.log(
    `${'ingest, master + 1 replica, default'.padEnd(44)} ${String(Math.round(replicated.default.rate)).padStart(9)} readings/s (best of 2; / bare pipeline ${(replicated.default.rate / bare).toFixed(2)})`,
  );
  console.log(
    `${'ingest, master + 1 replica, --wait-replicas 1'.padEnd(44)} ${String(Math.round(replicated.wait.rate)).padStart(9)} readings/s (best of 2; / bare pipeline ${(replicated.wait.rate / bare).toFixed(2)}; ${replicated.wait.waits} WAITs)`,
  );
  console.log(
    `(${REPLICATED} readings each; every run: default ${runs.default.join(' / ')}, wait ${runs.wait.join(' / ')}; the four ingests on master + replica took ${replicatedSeconds.toFixed(0)} s)`,
  );
  console.log('\nratios');
  console.log(
    `  ingest / redis-benchmark          ${(ingest / bench).toFixed(2)}  (target >= 0.33: ${ingest / bench >= 1 / 3 ? 'met' : 'NOT met'})`,
  );
  console.log(`  ingest / bare ioredis pipeline    ${(ingest / bare).toFixed(2)}`);
  console.log(`  writer / redis-benchmark          ${(direct / bench).toFixed(2)}`);
  console.log(`  writer / bare ioredis pipeline    ${(direct / bare).toFixed(2)}`);
  console.log(
    `  --wait-replicas 1 / default       ${waitCost.toFixed(2)}  (ingest on a master with one replica)`,
  );

  if (process.env.BENCH_JSON) {
    const figures = {
      readings: N,
      devices: DEVICES,
      redisBenchmark: bench,
      barePipeline: bare,
      ingest,
      ingestWithStart: N / wall,
      writer: direct,
      // The first half of the readings ingested on a master with one replica, best of 2 each; WAITs: those of that run.
      replicated: {
        readings: REPLICATED,
        rounds: 2,
        default: replicated.default.rate,
        waitReplicas1: replicated.wait.rate,
        waits: replicated.wait.waits,
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
  await rm(dir, { recursive: true, force: true });
}
