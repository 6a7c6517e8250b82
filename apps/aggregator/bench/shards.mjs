#!/usr/bin/env node
// 1 shard on one redis-server versus 3 shards on a 3-master Redis Cluster: the same job on each,
// `pipe-producer backfill` then `pipe-aggregator run --drain` (real processes), timed per step, and
// checked (every reading in exactly one published hour). The cluster side needs the producer's
// `--shards N` and the aggregator's cluster mode; while the producer's CLI rejects `--shards`, that side
// prints "not available: <reason>" and the figures of the single server stand alone.
//   node apps/aggregator/bench/shards.mjs [devices=10]   (env BENCH_JSON=<file>: figures as JSON)
import { writeFile } from 'node:fs/promises';
import { calculateSlot, connect, discoverPartitions, PipelineKeys } from '@pipe/streams';
import { RedisCluster, RedisServer } from '@pipe/testkit';
import { backfill, checkAverages, drain, ProcessFailed } from './jobs.mjs';

const DEVICES = Number(process.argv[2] ?? 10);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const SHARDS = 3;
// One day of DEVICES devices at 1 reading/s, on whole hours ending at the last full hour.
const to = Math.floor(Date.now() / HOUR) * HOUR;
const from = to - DAY;
const READINGS = DEVICES * (DAY / 1000);
const HOURS = DAY / HOUR;
const dataSet = [
  '--devices',
  String(DEVICES),
  '--interval',
  '1s',
  '--from',
  String(from),
  '--to',
  String(to),
];
const prefix = 'bench';

/** Backfill then drain through `connection` flags, checked on `redis`; seconds and rates per step. */
async function job(connection, redis, producerFlags = []) {
  const written = await backfill(connection, prefix, [...dataSet, ...producerFlags], READINGS);
  const drained = await drain(connection, prefix);
  await checkAverages(redis, new PipelineKeys(prefix), READINGS, HOURS);
  return { backfill: { seconds: written.seconds }, drain: { seconds: drained.seconds } };
}

async function onOneServer() {
  const server = await RedisServer.start();
  const redis = connect({ url: server.url });
  try {
    return await job(['--redis-url', server.url], redis);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** How many partition streams (shards of each day) each master holds, masters in seed order. */
async function partitionsPerMaster(redis, seeds) {
  const counts = new Map(seeds.map((seed) => [seed, 0]));
  for (const key of await discoverPartitions(redis, new PipelineKeys(prefix))) {
    const master = redis.slots[calculateSlot(key)][0];
    counts.set(master, (counts.get(master) ?? 0) + 1);
  }
  return [...counts.values()];
}

/** The job on the cluster; `{ unavailable }` when the producer's CLI does not take `--shards` yet. */
async function onCluster() {
  const cluster = await RedisCluster.start(SHARDS);
  const redis = connect({ clusterNodes: cluster.seeds.split(',') });
  try {
    const result = await job(['--cluster-nodes', cluster.seeds], redis, ['--shards', String(SHARDS)]);
    // Where the shards went: whether the write load was spread over the masters at all.
    return { ...result, partitionsPerMaster: await partitionsPerMaster(redis, cluster.seeds.split(',')) };
  } catch (err) {
    const rejected = err instanceof ProcessFailed && /unknown option '--shards'/.exec(err.stderr);
    if (!rejected) throw err;
    return { unavailable: `pipe-producer backfill rejects --shards (${err.stderr.trim().split('\n')[0]})` };
  } finally {
    redis.disconnect();
    await cluster.stop();
  }
}

const rate = (seconds) => `${Math.round(READINGS / seconds).toLocaleString('en')} readings/s`;
function print(label, r) {
  if (r.unavailable) return console.log(`${label.padEnd(30)} not available: ${r.unavailable}`);
  console.log(
    `${label.padEnd(30)} backfill ${r.backfill.seconds.toFixed(2)} s (${rate(r.backfill.seconds)})` +
      `  drain ${r.drain.seconds.toFixed(2)} s (${rate(r.drain.seconds)})` +
      (r.partitionsPerMaster ? `  partition streams per master ${r.partitionsPerMaster.join('/')}` : ''),
  );
}

console.log(`${READINGS.toLocaleString('en')} readings (${DEVICES} devices x 1/s x 1 day), ${HOURS} hours\n`);
const single = await onOneServer();
print('1 shard, one redis-server', single);
const sharded = await onCluster();
print(`${SHARDS} shards, ${SHARDS}-master cluster`, sharded);
if (!sharded.unavailable) {
  console.log(
    `ratio cluster / single: backfill ${(single.backfill.seconds / sharded.backfill.seconds).toFixed(2)}` +
      `  drain ${(single.drain.seconds / sharded.drain.seconds).toFixed(2)} (readings/s)`,
  );
}
if (process.env.BENCH_JSON) {
  const figures = { readings: READINGS, devices: DEVICES, hours: HOURS, shards: SHARDS, single, sharded };
  await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
}
