#!/usr/bin/env node
// Sizing benchmark: the Redis memory pipe's keys take, per reading, per batch, per key and per device,
// measured on real runs of `pipe-producer backfill` and `pipe-aggregator run` (the built CLIs) against a
// fresh redis-server, at several scales. Writes the figures to docs/sizing.json, which `pnpm plan` reads.
//   node apps/aggregator/bench/sizing.mjs   (env BENCH_JSON=<file>: the same figures for `pnpm bench`)
//
// Each scenario writes some days of readings with --id-from-time (IDs from event times, the ID spacing of
// a live producer: a bulk backfill with `*` IDs packs a node's entries into a few milliseconds, which
// listpacks store in fewer bytes), runs the aggregator until it has read everything (the hour in
// progress stays open), takes MEMORY USAGE of every key, then drains and frees the keys one by one: the
// drop of `used_memory` at each DEL is what the key really held (allocator size classes, the keyspace's
// entries), which MEMORY USAGE only estimates. Per kind of key the figures are then fitted over every
// key of every scenario (least relative squares): bytes = per key + per reading x readings (+ per batch
// x batches for the ledgers), and the worst fit error is printed. Baseline: the same entries of the
// largest partition copied with bare XADDs (same IDs, same fields) into a plain stream.
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fieldsToObject, PipelineKeys } from '@pipe/streams';
import { RedisServer, startNode, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import {
  copyTo,
  deviceResultsMemory,
  freedBy,
  marginalPerResult,
  memoryUsage,
  openWindowMemory,
  scanAll,
  usedMemory,
  writeReadings,
} from './device-memory.mjs';
import { backfill, drain } from './jobs.mjs';

const DAY = 86_400_000;
const aggregatorMain = new URL('../dist/main.js', import.meta.url).pathname;
const output = new URL('../../../docs/sizing.json', import.meta.url).pathname;
const biome = new URL('../../../node_modules/.bin/biome', import.meta.url).pathname;

/**
 * Scales: big partitions with full batches, many devices (an hour's totals as a hash table), small
 * partitions with batches of one step of 3 devices (the ledger's per-batch cost), and in between.
 * Each runs over three whole past days and today up to now.
 */
const SCENARIOS = [
  { name: 'large', devices: 100, intervalMs: 30_000, batchSize: 1000 },
  { name: 'many-devices', devices: 1000, intervalMs: 600_000, batchSize: 1000 },
  { name: 'medium', devices: 20, intervalMs: 60_000, batchSize: 100 },
  { name: 'small', devices: 3, intervalMs: 300_000, batchSize: 3 },
];

const server = await RedisServer.start();
const redis = new Redis(server.url);
const connection = ['--redis-url', server.url];

/** What kind of pipe key this is (the aggregator's and producer's names, see state-keys.ts). */
function kindOf(keys, key) {
  if (keys.isPartitionKey(key)) return 'stream';
  const companion = /^\{(.+)\}:([a-z]+)/.exec(key);
  if (!companion) return key === keys.averages ? 'averages' : 'other';
  if (companion[1] === keys.averages) return companion[2] === 'sources' ? 'sources' : 'other';
  return { batches: 'ledger', agg: 'agg', open: 'open', hour: 'hour' }[companion[2]] ?? 'other';
}

/** Waits until the group has read and acknowledged every entry of every partition, and no hour is due. */
async function caughtUp(keys) {
  let lastAverages = -1;
  let lastCheck = 0;
  await waitFor(
    'the aggregator to read every entry',
    async () => {
      if (Date.now() - lastCheck < 1000) return false;
      lastCheck = Date.now();
      const partitions = (await scanAll(redis, `${keys.prefix}:*`)).filter((k) => keys.isPartitionKey(k));
      for (const partition of partitions) {
        const groups = await redis.xinfo('GROUPS', partition).catch(() => []);
        const group = groups.map(fieldsToObject).find((g) => g.name === 'aggregator');
        if (!group || Number(group.lag) !== 0 || Number(group.pending) !== 0) return false;
      }
      const averages = await redis.xlen(keys.averages);
      const stable = averages === lastAverages;
      lastAverages = averages;
      return stable;
    },
    600_000,
  );
}

async function runScenario(s) {
  await redis.flushall();
  await redis.function('FLUSH');
  const prefix = `size-${s.name}`;
  const keys = new PipelineKeys(prefix);
  const empty = await usedMemory(redis);
  const to = Math.floor(Date.now() / s.intervalMs) * s.intervalMs;
  const from = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
  const readings = Math.ceil((to - from) / s.intervalMs) * s.devices;
  console.log(
    `\n${s.name}: ${s.devices} devices, one reading each per ${s.intervalMs / 1000} s, ${readings.toLocaleString('en')} readings over 3 days and today, batches of ${s.batchSize}`,
  );
  const written = await backfill(
    connection,
    prefix,
    [
      ...['--devices', String(s.devices), '--interval', `${s.intervalMs}ms`],
      ...['--from', String(from), '--to', String(to), '--retention', '5d'],
      ...['--batch-size', String(s.batchSize), '--id-from-time'],
    ],
    readings,
  );
  console.log(`  backfill ${written.seconds.toFixed(1)} s`);

  // The aggregator as it runs: everything read, the hour in progress open.
  const started = performance.now();
  const aggregator = startNode(
    aggregatorMain,
    ['run', ...connection, '--prefix', prefix, '--log-level', 'warn'],
    {
      env: { PIPE_PRETTY_LOGS: '0' },
    },
  );
  try {
    await caughtUp(keys);
  } finally {
    aggregator.kill('SIGTERM');
  }
  const exit = await aggregator.exited;
  if (exit.code !== 0) throw new Error(`aggregator run exited ${exit.code}: ${exit.stderr.slice(-2000)}`);
  console.log(`  aggregator caught up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const running = { hour: [], open: [] };
  for (const key of await scanAll(redis, `*${prefix}*`)) {
    const kind = kindOf(keys, key);
    if (kind !== 'hour' && kind !== 'open') continue;
    // Only hours still open: a settled hour has no per-device fields left (settle-window-n.lua).
    if (kind === 'hour' && (await redis.hexists(key, 'settled'))) continue;
    const entry = {
      key,
      memoryUsage: await memoryUsage(redis, [key]),
      encoding: await redis.object('ENCODING', key),
    };
    if (kind === 'hour') entry.devices = Number(await redis.hget(key, 'devices'));
    running[kind].push(entry);
  }

  await drain(connection, prefix);
  const measured = { stream: [], ledger: [], agg: [], sources: [], averages: [], other: [] };
  const all = await scanAll(redis, `*${prefix}*`);
  const byKind = {};
  for (const key of all) {
    const kind = kindOf(keys, key);
    byKind[kind] = [...(byKind[kind] ?? []), key];
  }
  // Published hours stay as settled totals (settle-window-n.lua), counted with the other small keys.
  for (const key of byKind.hour ?? []) {
    if (!(await redis.hexists(key, 'settled'))) throw new Error(`open hour left after the drain: ${key}`);
  }
  byKind.other = [...(byKind.other ?? []), ...(byKind.hour ?? [])];
  delete byKind.hour;
  if (byKind.open) throw new Error(`open keys left after the drain: ${byKind.open.join(', ')}`);

  // Baseline: the largest partition's entries, bare XADDs with the same IDs and fields.
  let baseline;
  if (s.name === 'large') {
    const sizes = await Promise.all(byKind.stream.map((k) => redis.xlen(k)));
    const biggest = byKind.stream[sizes.indexOf(Math.max(...sizes))];
    const before = await usedMemory(redis);
    let cursor = '-';
    let copied = 0;
    for (;;) {
      const entries = await redis.xrange(biggest, cursor, '+', 'COUNT', 1000);
      if (cursor !== '-') entries.shift();
      if (entries.length === 0) break;
      const pipeline = redis.pipeline();
      for (const [id, fields] of entries) pipeline.xadd('baseline:bare', id, ...fields);
      await pipeline.exec();
      copied += entries.length;
      cursor = entries.at(-1)[0];
    }
    const bytes = (await usedMemory(redis)) - before;
    baseline = { readings: copied, bytes, memoryUsage: await memoryUsage(redis, ['baseline:bare']) };
    await redis.del('baseline:bare');
  }

  for (const key of byKind.stream ?? []) {
    const memory = await memoryUsage(redis, [key]);
    const n = await redis.xlen(key);
    const ledger = keys.companionKey(key, 'batches');
    const fields = await redis.hlen(ledger);
    const ledgerMemory = await memoryUsage(redis, [ledger]);
    const ledgerEncoding = await redis.object('ENCODING', ledger);
    measured.stream.push({ key, readings: n, memoryUsage: memory, bytes: await freedBy(redis, [key]) });
    measured.ledger.push({
      key: ledger,
      readings: n,
      batches: fields / 2,
      encoding: ledgerEncoding,
      memoryUsage: ledgerMemory,
      bytes: await freedBy(redis, [ledger]),
    });
  }
  for (const kind of ['agg', 'sources', 'averages', 'other']) {
    const list = byKind[kind] ?? [];
    const memory = await memoryUsage(redis, list);
    const entries = kind === 'averages' && list.length ? await redis.xlen(list[0]) : undefined;
    const info =
      kind === 'averages' && list.length ? fieldsToObject(await redis.xinfo('STREAM', list[0])) : undefined;
    measured[kind] = {
      keys: list.length,
      entries,
      nodes: info ? Number(info['radix-tree-keys']) : undefined,
      memoryUsage: memory,
      bytes: await freedBy(redis, list),
    };
  }
  const left = await redis.dbsize();
  if (left !== 0) throw new Error(`${left} keys not classified`);
  // What stays once every key is gone: the functions the services loaded, the server's own bookkeeping.
  const fixed = (await usedMemory(redis)) - empty;
  return { ...s, readings, empty, fixed, running, measured, baseline };
}

/**
 * The per-device tiers' scales: 1,000 devices, one reading every 10 s, 10 minutes of a past day (the
 * device figures), and 10 devices, one reading a minute for three hours (1m results of one reading,
 * and a sorted set of settled 1m windows past zset-max-listpack-entries, as a day's 1,440 are).
 */
const DEVICE_TIERS = [
  { devices: 1000, minutes: 10, stepMs: 10_000 },
  { devices: 10, minutes: 180, stepMs: 60_000 },
];
/** Fleet results added to the 1m stream to measure one more (see marginalPerResult). */
const FLEET_MARGINAL = 1000;

/**
 * A drain of `scale` readings by the real aggregator with --windows 1m,1h,1d --per-device, then what its
 * keys take: per settled window of another size than 1h (its totals, kept while the partition lives), per
 * fleet result of another size, and (deviceResultsMemory) per stored device result, per device stream
 * and per device in the index.
 */
async function drainTiers(scale) {
  await redis.flushall();
  await redis.function('FLUSH');
  const source = new PipelineKeys('tiers-src');
  const past = await writeReadings(redis, source, {
    ...scale,
    from: Math.floor(Date.now() / DAY) * DAY - DAY / 2,
  });
  const prefix = 'size-tiers';
  const keys = new PipelineKeys(prefix);
  const partitions = await copyTo(redis, past.partitions, source, prefix);
  await redis.del(...past.partitions);
  console.log(
    `\nper-device tiers: ${scale.devices} devices, one reading each per ${scale.stepMs / 1000} s, ${past.readings.toLocaleString('en')} readings over ${scale.minutes} min, --windows 1m,1h,1d --per-device`,
  );
  const run = await drain(connection, prefix, ['--windows', '1m,1h,1d', '--per-device']);
  if (run.counted !== past.readings) throw new Error(`the drain counted ${run.counted} of ${past.readings}`);
  const state = (await Promise.all(partitions.map((p) => scanAll(redis, keys.companionKey(p, '*'))))).flat();
  const settled = state.filter((k) => /:win:/.test(k));
  const settledBytes = await freedBy(redis, settled);
  console.log(
    `  ${settled.length} settled windows of 1m and 1d: ${Math.round(settledBytes / settled.length)} B each`,
  );
  // Each size's sorted set of settled windows (hours': figures.open): a skiplist past 128 members.
  const indexes = state.filter((k) => /:settled:/.test(k));
  let indexed = 0;
  for (const key of indexes) indexed += await redis.zcard(key);
  const settledIndexBytes = await freedBy(redis, indexes);
  const fleet = keys.averagesFor({ label: '1m', ms: 60_000 });
  const fleetEntry = await marginalPerResult(redis, [fleet], 60_000, FLEET_MARGINAL);
  const results = await deviceResultsMemory(redis, keys, scale.devices);
  if (results.results !== past.deviceWindows)
    throw new Error(`the drain stored ${results.results} device results, expected ${past.deviceWindows}`);
  return { ...scale, settled: settled.length, settledBytes, indexed, settledIndexBytes, fleetEntry, results };
}

/**
 * What `--windows` other than 1h and `--per-device` add, for `pnpm plan`: drainTiers at both scales,
 * then a live run (the first scale) that has counted the last minutes and closed nothing: per open
 * device window.
 */
async function measureDeviceTiers() {
  const drains = [];
  for (const scale of DEVICE_TIERS) drains.push(await drainTiers(scale));
  await redis.flushall();
  const source = new PipelineKeys('tiers-src');
  const now = Date.now();
  const from = Math.max(Math.floor(now / DAY) * DAY, now - DEVICE_TIERS[0].minutes * 60_000);
  const live = await writeReadings(redis, source, { ...DEVICE_TIERS[0], from });
  const open = await openWindowMemory(redis, server.url, live.partitions, source, live);
  await redis.flushall();
  // A settled window's totals, written anew without the devices (settle-window-n.lua): the same whatever
  // the devices were, so the two scales' figures agree but for the allocator's rounding.
  const settled =
    drains.reduce((sum, d) => sum + d.settledBytes, 0) / drains.reduce((sum, d) => sum + d.settled, 0);
  return {
    drain: drains[0],
    oneReading: drains[1],
    open,
    settled,
    settledIndex: drains[1].settledIndexBytes / drains[1].indexed,
  };
}

/**
 * Least relative squares: the coefficients c minimising sum(((X c - y) / y)^2), for a few columns.
 * Returns the coefficients and the worst relative error over the points.
 */
function fitLinear(rows, columns, target) {
  const X = rows.map((r) => columns.map((c) => (c === 1 ? 1 : r[c]) / r[target]));
  const y = rows.map(() => 1);
  const k = columns.length;
  const A = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => X.reduce((sum, row) => sum + row[i] * row[j], 0)),
  );
  const b = Array.from({ length: k }, (_, i) => X.reduce((sum, row, n) => sum + row[i] * y[n], 0));
  // Gaussian elimination with partial pivoting (k is 2 or 3).
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(A[r][col]) > Math.abs(A[pivot][col])) pivot = r;
    [A[col], A[pivot]] = [A[pivot], A[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < k; r++) {
      const f = A[r][col] / A[col][col];
      for (let c = col; c < k; c++) A[r][c] -= f * A[col][c];
      b[r] -= f * b[col];
    }
  }
  const coef = new Array(k).fill(0);
  for (let r = k - 1; r >= 0; r--) {
    let sum = b[r];
    for (let c = r + 1; c < k; c++) sum -= A[r][c] * coef[c];
    coef[r] = sum / A[r][r];
  }
  const predict = (row) => columns.reduce((sum, c, i) => sum + coef[i] * (c === 1 ? 1 : row[c]), 0);
  const worst = Math.max(...rows.map((r) => Math.abs(predict(r) - r[target]) / r[target]));
  return { coef, worst };
}

const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const int = (n) => Math.round(n).toLocaleString('en');

try {
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))[1];
  const config = Object.fromEntries(
    (await redis.config('GET', '*-max-*')).reduce((pairs, v, i, a) => {
      if (i % 2 === 0) pairs.push([v, a[i + 1]]);
      return pairs;
    }, []),
  );
  console.log(`sizing bench: redis-server ${version} on port ${server.port} (no persistence)`);
  const runs = [];
  for (const scenario of SCENARIOS) runs.push(await runScenario(scenario));
  const tiers = await measureDeviceTiers();

  const streams = runs.flatMap((r) => r.measured.stream);
  // A ledger is a hash table but for a partition of few small batches (hash-max-listpack-entries): the
  // plan counts every ledger as a hash table, which overestimates those.
  const ledgers = runs.flatMap((r) => r.measured.ledger).filter((l) => l.encoding === 'hashtable');
  const stream = fitLinear(streams, [1, 'readings'], 'bytes');
  const wholeDays = runs.map((r) => {
    const full = r.measured.stream.filter(
      (p) => p.readings === Math.max(...r.measured.stream.map((q) => q.readings)),
    );
    return full.reduce((sum, p) => sum + p.bytes, 0) / full.reduce((sum, p) => sum + p.readings, 0);
  });
  const ledger = fitLinear(ledgers, [1, 'readings', 'batches'], 'bytes');
  const hours = runs.flatMap((r) => r.running.hour);
  // Listpacks at several device counts (fitted); a hash table at one (bytes per device, all in).
  const listpackHours = fitLinear(
    hours.filter((h) => h.encoding === 'listpack'),
    [1, 'devices'],
    'memoryUsage',
  );
  const tables = hours.filter((h) => h.encoding === 'hashtable');
  const tablePerDevice =
    tables.reduce((sum, h) => sum + h.memoryUsage, 0) / tables.reduce((sum, h) => sum + h.devices, 0);
  const perKey = (kind) => {
    const keys = runs.reduce((sum, r) => sum + r.measured[kind].keys, 0);
    const bytes = runs.reduce((sum, r) => sum + r.measured[kind].bytes, 0);
    return bytes / keys;
  };
  const averagesRun = runs.find((r) => r.name === 'large').measured.averages;
  const opens = runs.flatMap((r) => r.running.open);
  const large = runs.find((r) => r.name === 'large');

  const figures = {
    measured: new Date().toISOString(),
    command: 'pnpm bench sizing',
    redisVersion: version,
    config: {
      'hash-max-listpack-entries': Number(config['hash-max-listpack-entries']),
      'hash-max-listpack-value': Number(config['hash-max-listpack-value']),
      'stream-node-max-entries': Number(config['stream-node-max-entries']),
      'stream-node-max-bytes': Number(config['stream-node-max-bytes']),
    },
    readings:
      'producer simulator readings (device sensor-NNN, ts, temp_f with 2 decimals, humidity with 1), IDs from event times',
    /** used_memory of an empty server with one client: what a server takes before pipe writes a key. */
    emptyServer: Math.min(...runs.map((r) => r.empty)),
    /** used_memory left once every pipe key is deleted: the functions the services load, bookkeeping. */
    fixed: Math.max(...runs.map((r) => r.fixed)),
    /** A day partition (its consumer group included, nothing pending): bytes = perKey + perReading x n. */
    stream: {
      perKey: round(stream.coef[0], 0),
      perReading: round(stream.coef[1]),
      worstFitError: round(stream.worst, 4),
      // Per reading in each scenario's whole-day partitions: the IDs' deltas take more bytes when fewer
      // readings share a timestamp and timestamps lie further apart.
      perReadingRange: [Math.min(...wholeDays), Math.max(...wholeDays)].map((n) => round(n)),
    },
    /** A partition's batch ledger: bytes = perKey + perReading x n + perBatch x batches. */
    ledger: {
      perKey: round(ledger.coef[0], 0),
      perReading: round(ledger.coef[1]),
      perBatch: round(ledger.coef[2]),
      worstFitError: round(ledger.worst, 4),
    },
    /** The aggregator's `agg` hash of a partition (outlives it by --keep-hours plus a week). */
    agg: { perKey: round(perKey('agg'), 0) },
    /** A partition's sorted set of open hours (MEMORY USAGE: only while hours are open). */
    open: { perKey: round(opens.reduce((s, o) => s + o.memoryUsage, 0) / Math.max(1, opens.length), 0) },
    /**
     * An open hour's running totals of a partition (MEMORY USAGE while the aggregator ran): a listpack
     * up to hash-max-listpack-entries fields (7 + one per device), a hash table beyond.
     */
    hour: {
      listpack: { perKey: round(listpackHours.coef[0], 0), perDevice: round(listpackHours.coef[1]) },
      hashtable: { perKey: 0, perDevice: round(tablePerDevice) },
      fieldsBesideDevices: 7,
    },
    /** One published hour's sources (kept --keep-hours plus a week). */
    sources: { perKey: round(perKey('sources'), 0) },
    /** The averages stream, per entry (its own overhead spread over its entries). */
    averages: {
      perEntry: round(averagesRun.bytes / averagesRun.entries),
      entriesPerNode: round(averagesRun.entries / averagesRun.nodes, 1),
    },
    /**
     * `--windows` other than 1h and `--per-device` (measureDeviceTiers): a stored device result in a
     * stream that holds many, a device stream's own cost, a device in the index, an open device window
     * of one size, a settled window's totals of another size than 1h, a fleet result of another size.
     */
    tiers: {
      scale: `${tiers.drain.devices} devices, one reading each per ${tiers.drain.stepMs / 1000} s for ${tiers.drain.minutes} min, --windows 1m,1h,1d --per-device`,
      deviceResult: round(tiers.drain.results.perResultSteady),
      // A window of one reading stores short figures (count 1, stddev 0, the reading's own text).
      deviceResultOneReading: round(tiers.oneReading.results.perResultSteady),
      deviceStream: round(tiers.drain.results.perStream, 0),
      devicesIndex: round(tiers.drain.results.indexPerDevice),
      openDeviceWindow: round(tiers.open.perDeviceWindow),
      settledIndex: round(tiers.settledIndex),
      settledWindow: round(tiers.settled, 0),
      fleetResult: round(tiers.drain.fleetEntry.perResult),
    },
    baseline: {
      what: 'bare XADD of the largest partition entries (same IDs and fields) into a plain stream',
      readings: large.baseline.readings,
      perReading: round(large.baseline.bytes / large.baseline.readings),
      memoryUsagePerReading: round(large.baseline.memoryUsage / large.baseline.readings),
    },
    scenarios: runs.map((r) => ({
      name: r.name,
      devices: r.devices,
      intervalMs: r.intervalMs,
      batchSize: r.batchSize,
      readings: r.readings,
      partitions: r.measured.stream.map(({ key, ...rest }) => rest),
      ledgers: r.measured.ledger.map(({ key, ...rest }) => rest),
      hours: r.running.hour.map(({ key, ...rest }) => rest),
      agg: r.measured.agg,
      sources: r.measured.sources,
      averages: r.measured.averages,
      fixed: r.fixed,
    })),
  };

  console.log('\nbytes of used_memory (freed by DEL), beside MEMORY USAGE SAMPLES 0\n');
  console.log('scenario      key         readings   batches     used_memory  MEMORY USAGE  per reading');
  for (const r of runs) {
    for (const [kind, list] of [
      ['partition', r.measured.stream],
      ['ledger', r.measured.ledger],
    ]) {
      for (const p of list)
        console.log(
          `${r.name.padEnd(13)} ${kind.padEnd(10)} ${int(p.readings).padStart(9)} ${(p.batches === undefined ? '' : int(p.batches)).padStart(9)} ${int(p.bytes).padStart(15)} ${int(p.memoryUsage).padStart(13)} ${(p.bytes / p.readings).toFixed(2).padStart(12)}`,
        );
    }
  }
  const { stream: st, ledger: lg, hour, baseline } = figures;
  console.log(`
fitted over every key of every scenario (worst error of the fit: partitions ${(st.worstFitError * 100).toFixed(1)} %, ledgers ${(lg.worstFitError * 100).toFixed(1)} %)
  partition        ${st.perReading} B/reading + ${st.perKey} B/key; whole days ${st.perReadingRange.join('-')} B/reading  (baseline, bare XADD of the same entries: ${baseline.perReading} B/reading; partition / bare ${(st.perReading / baseline.perReading).toFixed(2)})
  ledger           ${lg.perReading} B/reading + ${lg.perBatch} B/batch + ${lg.perKey} B/key (hash tables)
  open hour        listpack ${hour.listpack.perKey} + ${hour.listpack.perDevice} B/device; hash table ${hour.hashtable.perDevice} B/device
  agg state        ${figures.agg.perKey} B/key;  open hours ${figures.open.perKey} B/key;  sources ${figures.sources.perKey} B/hour
  averages         ${figures.averages.perEntry} B/entry (${figures.averages.entriesPerNode} entries per node)
  per device       ${figures.tiers.deviceResult} B/result (${figures.tiers.deviceResultOneReading} B of one reading) + ${figures.tiers.deviceStream} B/stream (a device and size) + ${figures.tiers.devicesIndex} B in the index; ${figures.tiers.openDeviceWindow} B/open device window
  other sizes      ${figures.tiers.fleetResult} B/fleet result; ${figures.tiers.settledWindow} B/settled window, ${figures.tiers.settledIndex} B in its sorted set
  server           ${int(figures.emptyServer)} B empty; ${int(figures.fixed)} B left after every key is deleted (functions)
  pipe per reading, 1000-reading batches: ${(st.perReading + lg.perReading + lg.perBatch / 1000).toFixed(2)} B = ${((st.perReading + lg.perReading + lg.perBatch / 1000) / baseline.perReading).toFixed(2)} x bare XADD`);

  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, `${JSON.stringify(figures, null, 2)}\n`);
  // In the repository's format (biome), so that the committed file is what the bench wrote.
  spawnSync(biome, ['format', '--write', output], { stdio: 'ignore' });
  console.log(`\nwrote ${output}`);
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
} finally {
  redis.disconnect();
  await server.stop();
}
