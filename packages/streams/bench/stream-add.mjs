#!/usr/bin/env node
// Benchmark (not a test): Stream.addMany against a bare ioredis pipeline of the same XADDs, in one run,
// on one freshly started redis-server, each pass on a fresh key. Prints readings/s for both and the
// ratio. Needs a build of the package (pnpm --filter @pipe/streams build) and redis-server on PATH.
//
//   node bench/stream-add.mjs [--readings 1000000] [--chunk 1000] [--rounds 1] [--slice 10000]
// With env BENCH_JSON=<file> it also writes its figures there as JSON (for `pnpm bench`'s report).
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { encodeReading, Stream } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    readings: { type: 'string', default: '1000000' },
    chunk: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '1' },
    slice: { type: 'string', default: '10000' },
  },
});
const readings = Number(values.readings);
const chunk = Number(values.chunk);
const rounds = Number(values.rounds);
const slice = Number(values.slice);

/** The same entries for both contenders: readings of 50 devices, one per ms, as the producer encodes them. */
function makeEntries(n) {
  const start = Date.UTC(2025, 0, 1);
  const entries = new Array(n);
  for (let i = 0; i < n; i++) {
    const fields = encodeReading({
      device: `probe-${i % 50}`,
      ts: start + i,
      temp_f: Math.round((60 + 20 * Math.sin(i / 1000)) * 100) / 100,
    });
    entries[i] = { fields };
  }
  return entries;
}

async function viaLibrary(redis, key, entries) {
  const ids = await new Stream(redis, key).addMany(entries, { chunk });
  return ids.length;
}

async function viaBarePipeline(redis, key, entries) {
  let added = 0;
  for (let i = 0; i < entries.length; i += chunk) {
    const pipeline = redis.pipeline();
    const end = Math.min(i + chunk, entries.length);
    for (let j = i; j < end; j++) pipeline.xadd(key, '*', ...entries[j].fields);
    const results = await pipeline.exec();
    added += results.length;
  }
  return added;
}

const contenders = { library: viaLibrary, bare: viaBarePipeline };

/** Wall time in s and this process's CPU time in µs (the part of the cost the library can add to). */
async function timed(fn, redis, key, entries) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const added = await fn(redis, key, entries);
  const { user, system } = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (added !== entries.length) throw new Error(`added ${added} of ${entries.length}`);
  return { seconds, cpuMicros: user + system };
}

const server = await RedisServer.start();
const redis = new Redis(server.url);
try {
  const version = (await redis.info('server')).match(/redis_version:(\S+)/)?.[1];
  console.log(`redis ${version} on ${server.url}, node ${process.version}`);
  console.log(
    `${readings} readings per contender and round, pipeline chunk ${chunk}, slices of ${slice}, ${rounds} round(s)`,
  );
  const entries = makeEntries(readings);

  // Warm up both code paths (JIT, connection buffers, server allocator) before measuring.
  const warm = entries.slice(0, Math.min(50_000, readings));
  await timed(viaLibrary, redis, 'bench:warm:library', warm);
  await timed(viaBarePipeline, redis, 'bench:warm:bare', warm);
  await redis.del('bench:warm:library', 'bench:warm:bare');

  // Both contenders add the same entries, slice by slice, taking turns at going first, so that load
  // from other processes on a shared machine falls on both alike. Each round uses fresh keys.
  const totals = { library: 0, bare: 0 };
  const cpuTotals = { library: 0, bare: 0 };
  for (let round = 1; round <= rounds; round++) {
    const keys = { library: `bench:library:${round}`, bare: `bench:bare:${round}` };
    const spent = { library: 0, bare: 0 };
    const cpu = { library: 0, bare: 0 };
    for (let from = 0, turn = 0; from < readings; from += slice, turn++) {
      const part = entries.slice(from, from + slice);
      const order = turn % 2 === 0 ? ['library', 'bare'] : ['bare', 'library'];
      for (const name of order) {
        const { seconds, cpuMicros } = await timed(contenders[name], redis, keys[name], part);
        spent[name] += seconds;
        cpu[name] += cpuMicros;
      }
    }
    for (const name of ['library', 'bare']) {
      const length = await redis.xlen(keys[name]);
      if (length !== readings) throw new Error(`${name}: the stream holds ${length}, expected ${readings}`);
      await redis.del(keys[name]);
      totals[name] += spent[name];
      cpuTotals[name] += cpu[name];
      const rate = Math.round(readings / spent[name]).toLocaleString('en-US');
      const perReading = (cpu[name] / readings).toFixed(2);
      console.log(
        `round ${round}  ${name.padEnd(7)}  ${spent[name].toFixed(2)} s  ${rate} readings/s  client CPU ${perReading} µs/reading`,
      );
    }
  }

  const libraryRate = (readings * rounds) / totals.library;
  const bareRate = (readings * rounds) / totals.bare;
  const ratio = libraryRate / bareRate;
  console.log('');
  console.log(`Stream.addMany        ${Math.round(libraryRate).toLocaleString('en-US')} readings/s`);
  console.log(`bare ioredis pipeline ${Math.round(bareRate).toLocaleString('en-US')} readings/s`);
  console.log(
    `ratio library/bare    ${ratio.toFixed(3)} (overhead ${((1 - ratio) * 100).toFixed(1)}%; target: within 10%)`,
  );
  const cpuRatio = cpuTotals.library / cpuTotals.bare;
  console.log(
    `client CPU library/bare ${cpuRatio.toFixed(3)} (${(cpuTotals.library / (readings * rounds)).toFixed(2)} vs ${(cpuTotals.bare / (readings * rounds)).toFixed(2)} µs/reading)`,
  );
  if (process.env.BENCH_JSON) {
    const perContender = (name) => ({
      readingsPerSecond: (readings * rounds) / totals[name],
      cpuMicrosPerReading: cpuTotals[name] / (readings * rounds),
    });
    const figures = { readings, rounds, chunk, library: perContender('library'), bare: perContender('bare') };
    await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
  }
} finally {
  redis.disconnect();
  await server.stop();
}
