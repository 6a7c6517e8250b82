#!/usr/bin/env node
// Aggregator throughput beside a bare consumer-group loop on the same data, in the same run.
//   node apps/aggregator/bench/aggregator.mjs [readings=1000000]
// Prints readings/s for: a bare XREADGROUP COUNT 1000 + one XACK per batch loop, and
// `pipe-aggregator run --drain` (a real process, startup included); then the RU202-sized job:
// 10 days x 1 reading/s (864,000 readings) written and drained, in seconds.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { encodeReading, PipelineKeys } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';

const total = Number(process.argv[2] ?? 1_000_000);
const main = new URL('../dist/main.js', import.meta.url).pathname;
const DAY = 86_400_000;

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

/** Runs `run --drain` as a process; resolves with its wall time and the peak RSS sampled from /proc. */
function drain(url, prefix) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [main, 'run', '--drain', '--redis-url', url, '--prefix', prefix, '--log-level', 'warn'],
      { stdio: 'inherit' },
    );
    let peakRss = 0;
    const sampler = setInterval(() => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
        peakRss = Math.max(peakRss, kb * 1024);
      } catch {}
    }, 100);
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code === 0) resolve({ seconds: (performance.now() - started) / 1000, peakRss });
      else reject(new Error(`aggregator exited ${code}`));
    });
  });
}

const server = await RedisServer.start();
const redis = new Redis(server.url);
try {
  const from = Math.floor(Date.now() / DAY) * DAY - DAY;
  const keys = new PipelineKeys('bench');
  console.log(`writing ${total} readings (10 devices, one day partition) ...`);
  const partitions = await write(redis, keys, from, total, 1000, 10);

  const bare = await bareLoop(redis, partitions);
  const agg = await drain(server.url, 'bench');
  const aggSeconds = agg.seconds;
  const bareRate = bare.n / bare.seconds;
  const aggRate = total / aggSeconds;
  const averages = await redis.xlen(keys.averages);

  // The reference job stands alone, as the RU202 exercise runs: a server without the first job's data.
  await redis.flushall();
  const ru = new PipelineKeys('ru202');
  const ruFrom = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
  const t0 = performance.now();
  await write(redis, ru, ruFrom, 864_000, 1000, 1);
  const writeSeconds = (performance.now() - t0) / 1000;
  const ru202 = await drain(server.url, 'ru202');
  const ruDrain = ru202.seconds;
  const ruAverages = await redis.xlen(ru.averages);

  const row = (name, rate, note = '') =>
    console.log(
      `${name.padEnd(44)} ${Math.round(rate).toLocaleString('en').padStart(10)} readings/s ${note}`,
    );
  console.log('');
  row('bare XREADGROUP COUNT 1000 + XACK per batch', bareRate, '(baseline)');
  row(
    'pipe-aggregator run --drain (process)',
    aggRate,
    `ratio ${(aggRate / bareRate).toFixed(2)} (target >= 0.75); ${averages} hours published, peak RSS ${(agg.peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log('');
  console.log(
    `RU202-sized job: 864,000 readings (10 days x 1/s): written in ${writeSeconds.toFixed(2)} s, drained in ${ruDrain.toFixed(2)} s (${ruAverages} hours published, peak RSS ${(ru202.peakRss / 2 ** 20).toFixed(0)} MiB); RU202 reference ~230 s, target < 8 s`,
  );
} finally {
  redis.disconnect();
  await server.stop();
}
