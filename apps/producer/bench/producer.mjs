#!/usr/bin/env node
// Producer benchmark (a script, not a test): 1,000,000 readings through the producer's own write path,
// beside two baselines measured in the same run on the same fresh redis-server:
//   1. redis-benchmark -P 128 -n 1000000 -r 100000 XADD bench:__rand_int__ * temp_f 50
//   2. a bare ioredis pipeline, 1000 XADDs per round trip, of the same readings the producer writes
// then the producer two ways: `pipe-producer ingest` of an NDJSON file (the CLI: parse, validate,
// write) and PartitionWriter directly (the write path alone). Prints readings/s and the ratios.
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

const server = await RedisServer.start();
const redis = new Redis(server.url);
const dir = await mkdtemp(join(tmpdir(), 'producer-bench-'));
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
  const out = createWriteStream(file);
  for (const r of readings)
    if (!out.write(`${JSON.stringify(r)}\n`)) await new Promise((resolve) => out.once('drain', resolve));
  await new Promise((resolve) => out.end(resolve));
  t = performance.now();
  const child = spawn(
    process.execPath,
    [main, 'ingest', '--file', file, '--redis-url', server.url, '--prefix', 'bench', '--json'],
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
  if (summary.readings !== N) throw new Error(`ingest wrote ${summary.readings} of ${N}`);
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

  const [bench, bare, ingest, direct] = results;
  console.log('\nratios');
  console.log(
    `  ingest / redis-benchmark          ${(ingest / bench).toFixed(2)}  (target >= 0.33: ${ingest / bench >= 1 / 3 ? 'met' : 'NOT met'})`,
  );
  console.log(`  ingest / bare ioredis pipeline    ${(ingest / bare).toFixed(2)}`);
  console.log(`  writer / redis-benchmark          ${(direct / bench).toFixed(2)}`);
  console.log(`  writer / bare ioredis pipeline    ${(direct / bare).toFixed(2)}`);

  if (process.env.BENCH_JSON) {
    const figures = {
      readings: N,
      devices: DEVICES,
      redisBenchmark: bench,
      barePipeline: bare,
      ingest,
      ingestWithStart: N / wall,
      writer: direct,
    };
    await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
  }
} finally {
  redis.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
