#!/usr/bin/env node
// Benchmark (not a test): times the reaper's sweep on its own redis-server and prints entries/s beside a
// baseline measured in the same run, a bare XAUTOCLAIM COUNT 1000 loop over the same number of entries.
//   1. reclaim: RECLAIM idle pending entries of a dead consumer, claimed to a live one;
//   2. dead-letter: DEAD entries delivered max-deliveries times, moved to the dead-letter stream; also
//      beside a naive pipelined move (XRANGE, XADD to the dlq, XACK; not atomic, no re-checks).
// Run after a build: `pnpm --filter @pipe/reaper bench` (env RECLAIM, DEAD to change the sizes; with
// BENCH_JSON=<file> it also writes its figures there as JSON, for `pnpm bench`'s report).
import { writeFile } from 'node:fs/promises';
import { connect, PipelineKeys, silentLogger } from '@pipe/streams';
import { RedisServer, sleep } from '@pipe/testkit';
import { Sweeper } from '../dist/sweeper.js';

const RECLAIM = Number(process.env.RECLAIM ?? 100_000);
const DEAD = Number(process.env.DEAD ?? 10_000);
const MAX_DELIVERIES = 5;
const MIN_IDLE_MS = 500;
const LIVE_WITHIN_MS = 400;
const GROUP = 'bench';

const server = await RedisServer.start();
const redis = connect({ url: server.url });
const liveClient = connect({ url: server.url });
let round = 0;

/** A fresh partition with `n` entries, all pending with consumer `dead` after `deliveries` reads. */
async function pendingEntries(n, deliveries) {
  const keys = new PipelineKeys(`bench${round++}`);
  const stream = keys.partitionKeyFor(Date.now());
  for (let i = 0; i < n; i += 1000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      pipeline.xadd(
        stream,
        '*',
        'device',
        `sensor-${j % 50}`,
        'ts',
        String(Date.now()),
        'temp_f',
        String(50 + (j % 40)),
      );
    }
    await pipeline.exec();
  }
  await redis.xgroup('CREATE', stream, GROUP, '0');
  for (let read = 0; read < deliveries; read++) {
    // The first read takes new entries; the others re-read the PEL, each one a delivery.
    for (let last = read === 0 ? '>' : '0'; ; ) {
      const reply = await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 10_000, 'STREAMS', stream, last);
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0 || last === '>') {
        if (last === '>' && entries.length === 10_000) continue;
        break;
      }
      last = entries[entries.length - 1][0];
    }
  }
  await redis.xgroup('CREATECONSUMER', stream, GROUP, 'live');
  // The dead consumer goes quiet past the live window and its entries past min-idle; the live one shows up.
  await sleep(Math.max(MIN_IDLE_MS, LIVE_WITHIN_MS) + 100);
  return { keys, stream };
}

async function bareAutoclaim(stream) {
  let claimed = 0;
  let cursor = '0-0';
  do {
    const [next, ids] = await redis.call(
      'XAUTOCLAIM',
      stream,
      GROUP,
      'live',
      MIN_IDLE_MS,
      cursor,
      'COUNT',
      1000,
      'JUSTID',
    );
    claimed += ids.length;
    cursor = next;
  } while (cursor !== '0-0');
  return claimed;
}

/** The live consumer shows up as a ConsumerLoop does, re-reading (one entry of) its own PEL. */
function keepAlive(stream) {
  const touch = () => liveClient.xreadgroup('GROUP', GROUP, 'live', 'COUNT', 1, 'STREAMS', stream, '0');
  const timer = setInterval(touch, 100);
  return touch().then(() => () => clearInterval(timer));
}

/**
 * A second baseline for dead-lettering: the same moves done the naive way, not atomic and without the
 * re-checks: XPENDING pages, then per page pipelined XRANGE, then pipelined XADD to the dlq + XACK.
 */
async function bareDeadLetter(stream, keys) {
  let moved = 0;
  for (let start = '-'; ; ) {
    const page = await redis.xpending(stream, GROUP, 'IDLE', MIN_IDLE_MS, start, '+', 500);
    if (page.length === 0) return moved;
    const reads = redis.pipeline();
    for (const [id] of page) reads.xrange(stream, id, id);
    const entries = (await reads.exec()).map(([, r]) => r[0]);
    const writes = redis.pipeline();
    page.forEach(([id, consumer, idle, deliveries], i) => {
      const fields = Object.fromEntries(entries[i][1].flatMap((v, k, a) => (k % 2 ? [] : [[v, a[k + 1]]])));
      writes.xadd(
        keys.deadLetters,
        '*',
        'stream',
        stream,
        'id',
        id,
        'group',
        GROUP,
        'consumer',
        consumer,
        'deliveries',
        deliveries,
        'idle_ms',
        idle,
        'reason',
        'bench',
        'fields',
        JSON.stringify(fields),
        'dead_at',
        Date.now(),
      );
      writes.xack(stream, GROUP, id);
    });
    await writes.exec();
    moved += page.length;
    start = `(${page[page.length - 1][0]}`;
  }
}

async function sweep(keys) {
  const sweeper = new Sweeper(
    { redis, keys, log: silentLogger },
    {
      minIdleMs: MIN_IDLE_MS,
      maxDeliveries: MAX_DELIVERIES,
      consumerTtlMs: 3_600_000,
      liveWithinMs: LIVE_WITHIN_MS,
    },
  );
  return sweeper.sweep();
}

async function timed(fn) {
  const started = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const rate = (n, s) => `${Math.round(n / s).toLocaleString('en-US')} entries/s`;

function report(label, n, reaper, baseline) {
  console.log(
    `${label.padEnd(12)} ${String(n).padStart(7)} entries  reaper ${reaper.seconds.toFixed(3)} s (${rate(n, reaper.seconds)})` +
      `  bare XAUTOCLAIM ${baseline.seconds.toFixed(3)} s (${rate(n, baseline.seconds)})` +
      `  ratio ${(baseline.seconds / reaper.seconds).toFixed(2)}`,
  );
}

try {
  console.log(
    `redis-server ${server.url}; min-idle ${MIN_IDLE_MS} ms, max deliveries ${MAX_DELIVERIES}; baseline is XAUTOCLAIM JUSTID COUNT 1000`,
  );

  // Each measurement twice, interleaved with its baseline, keeping the faster: the machine is shared.
  const best = (a, b) => (a.seconds <= b.seconds ? a : b);
  const measure = async (n, deliveries, check) => {
    let reaper;
    let baseline;
    for (let attempt = 0; attempt < 2; attempt++) {
      const bare = await pendingEntries(n, deliveries);
      const b = await timed(() => bareAutoclaim(bare.stream));
      if (b.result !== n) throw new Error(`baseline claimed ${b.result} of ${n}`);
      const run = await pendingEntries(n, deliveries);
      const stopLive = await keepAlive(run.stream);
      const r = await timed(() => sweep(run.keys));
      stopLive();
      await check(r.result, run.keys);
      reaper = reaper ? best(reaper, r) : r;
      baseline = baseline ? best(baseline, b) : b;
    }
    return { reaper, baseline };
  };

  const reclaim = await measure(RECLAIM, 1, (summary) => {
    if (summary.reclaimed !== RECLAIM) throw new Error(`reclaim: ${JSON.stringify(summary)}`);
  });
  report('reclaim', RECLAIM, reclaim.reaper, reclaim.baseline);

  const dead = await measure(DEAD, MAX_DELIVERIES, async (summary, keys) => {
    if (summary.deadLettered !== DEAD || (await redis.xlen(keys.deadLetters)) !== DEAD) {
      throw new Error(`dead-letter: ${JSON.stringify(summary)}`);
    }
  });
  report('dead-letter', DEAD, dead.reaper, dead.baseline);

  let naive;
  for (let attempt = 0; attempt < 2; attempt++) {
    const run = await pendingEntries(DEAD, MAX_DELIVERIES);
    const t = await timed(() => bareDeadLetter(run.stream, run.keys));
    if (t.result !== DEAD) throw new Error(`naive dead-letter moved ${t.result}`);
    naive = naive && naive.seconds <= t.seconds ? naive : t;
  }
  console.log(
    `${''.padEnd(12)} ${''.padStart(7)}          naive pipelined XRANGE + XADD dlq + XACK (not atomic) ${naive.seconds.toFixed(3)} s (${rate(DEAD, naive.seconds)})` +
      `  ratio ${(naive.seconds / dead.reaper.seconds).toFixed(2)}`,
  );

  if (process.env.BENCH_JSON) {
    const seconds = ({ reaper, baseline }) => ({ reaper: reaper.seconds, bare: baseline.seconds });
    const figures = {
      minIdleMs: MIN_IDLE_MS,
      maxDeliveries: MAX_DELIVERIES,
      reclaim: { entries: RECLAIM, ...seconds(reclaim) },
      deadLetter: { entries: DEAD, ...seconds(dead), naive: naive.seconds },
    };
    await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
  }
} finally {
  redis.disconnect();
  liveClient.disconnect();
  await server.stop();
}
