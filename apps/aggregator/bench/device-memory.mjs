// What per-device results and open windows take in Redis, measured on a server the bench owns: shared by
// `pnpm bench windows` (beside its drain rates) and `pnpm bench sizing` (which writes the figures to
// docs/sizing.json for `pnpm plan`). Figures are used_memory deltas (what a key really holds: allocator
// size classes, the keyspace's entries) beside MEMORY USAGE, which only estimates.
import { encodeReading, PipelineKeys } from '@pipe/streams';
import { sleep, startNode } from '@pipe/testkit';

const DAY = 86_400_000;
const aggregatorMain = new URL('../dist/main.js', import.meta.url).pathname;

/**
 * `devices` devices each one reading every `stepMs` from `from` for `minutes` (with humidity), by
 * pipelined XADDs into the day partitions of `keys`. Returns the partitions, the readings and how many
 * device windows of 1m, 1h and 1d they fall in.
 */
export async function writeReadings(redis, keys, { devices, minutes, from, stepMs }) {
  let pipeline = redis.pipeline();
  const touched = new Set();
  const deviceWindows = new Set();
  let n = 0;
  for (let t = from; t < from + minutes * 60_000; t += stepMs) {
    for (let d = 0; d < devices; d++) {
      const ts = t + (d % stepMs);
      const key = keys.partitionKeyFor(ts);
      touched.add(key);
      // Two decimals, as the producer's simulator and most sensors send them.
      const temp_f = Math.round((50 + ((d * 7 + ts / 1000) % 37) / 3) * 100) / 100;
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

/** The partitions `source` (of `sourceKeys`) copied server-side under `prefix`; returns the copies. */
export async function copyTo(redis, source, sourceKeys, prefix) {
  const target = new PipelineKeys(prefix);
  const out = [];
  for (const key of source) {
    const copy = target.partitionKeyFor(sourceKeys.parsePartitionKey(key));
    await redis.copy(key, copy);
    out.push(copy);
  }
  return out;
}

export async function scanAll(redis, match) {
  const found = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

export async function usedMemory(redis) {
  // A moment after the last write: the allocator's figure settles after a large delete.
  await sleep(200);
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)[1]);
}

/** Bytes that deleting `keys` frees (used_memory before minus after). */
export async function freedBy(redis, keys) {
  if (keys.length === 0) return 0;
  const before = await usedMemory(redis);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return before - (await usedMemory(redis));
}

export async function memoryUsage(redis, keys) {
  let bytes = 0;
  for (const key of keys) bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
  return bytes;
}

/**
 * Device streams of a drain under `keys`: their keys, the results they hold, and what they cost (then
 * deleted, with the devices index). `devices`: how many devices the index holds.
 */
export async function deviceResultsMemory(redis, keys, devices) {
  const streams = await scanAll(redis, keys.patterns.deviceWindows);
  let results = 0;
  for (const key of streams) results += await redis.xlen(key);
  const sample = streams.slice(0, 300);
  let sampled = 0;
  for (const key of sample) sampled += await redis.xlen(key);
  const usage = await memoryUsage(redis, sample);
  const marginal = await marginalPerResult(
    redis,
    streams.filter((k) => k.endsWith(':1m')).slice(0, 1000),
    60_000,
  );
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

/** Results added to each stream by marginalPerResult. */
export const MARGINAL_RESULTS = 250;

/**
 * What one more result costs a stream that holds many (the steady state of a tier, which a few
 * minutes of data do not reach): each stream gets `count` more entries shaped as its newest
 * (its fields, the next windows' IDs, `sizeMs` apart), and used_memory grows by that much.
 */
export async function marginalPerResult(redis, streams, sizeMs, count = MARGINAL_RESULTS) {
  const before = await usedMemory(redis);
  let pipeline = redis.pipeline();
  for (const key of streams) {
    const [[id, fields]] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
    const start = Number(id.split('-')[0]);
    for (let i = 1; i <= count; i++) pipeline.xadd(key, `${start + i * sizeMs}-0`, ...fields);
    if (pipeline.length >= 5000) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
  const added = streams.length * count;
  return { added, perResult: ((await usedMemory(redis)) - before) / added };
}

function pairs(flat) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

/**
 * A live `pipe-aggregator run --windows 1m,1h,1d --per-device --grace 1h` over `partitions` (copied
 * from `source` under its own prefix) that has counted every reading and closed nothing: the memory of
 * its open windows (MEMORY USAGE of the window hashes), per reading and per device window.
 */
export async function openWindowMemory(redis, url, source, sourceKeys, { readings, deviceWindows }) {
  const prefix = 'open';
  const keys = new PipelineKeys(prefix);
  const partitions = await copyTo(redis, source, sourceKeys, prefix);
  const run = startNode(
    aggregatorMain,
    [
      ...['run', '--redis-url', url, '--prefix', prefix, '--windows', '1m,1h,1d', '--per-device'],
      ...['--grace', '1h', '--idle-close', '1h', '--log-level', 'warn'],
    ],
    { env: { PIPE_PRETTY_LOGS: '0' } },
  );
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      let counted = 0;
      for (const p of partitions) {
        const groups = await redis.xinfo('GROUPS', p).catch(() => []);
        const group = groups.map((g) => Object.fromEntries(pairs(g))).find((g) => g.name === 'aggregator');
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
    const bytes = await memoryUsage(redis, open);
    return {
      perReading: bytes / readings,
      perDeviceWindow: bytes / deviceWindows,
      stateKeys: state.length,
      windowKeys: open.length,
      allState: (await memoryUsage(redis, state)) / readings,
    };
  } finally {
    run.kill('SIGTERM');
    await run.exited;
  }
}
