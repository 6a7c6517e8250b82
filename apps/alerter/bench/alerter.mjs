#!/usr/bin/env node
// Benchmark (not a test): the alerter with 100 rules over 10,000 devices, draining a partition on its own
// redis-server, beside a baseline measured in the same run on the same data: the bare consumer-group loop
// (ConsumerLoop reading the same COUNT with the same read-ahead and only acknowledging). Three rounds, the contenders taking turns (best of each).
// Run after a build: `pnpm --filter @pipe/alerter bench` (env READINGS to change the size; with
// BENCH_JSON=<file> it also writes its figures there as JSON, for `pnpm bench`'s report).
import { writeFile } from 'node:fs/promises';
import {
  ConsumerGroup,
  ConsumerLoop,
  connect,
  encodeReading,
  PipelineKeys,
  silentLogger,
} from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { Alerter } from '../dist/alerter.js';
import { parseRules } from '../dist/rules.js';

const READINGS = Number(process.env.READINGS ?? 200_000);
const DEVICES = 10_000;
const COUNT = 500;
const ROUNDS = 3;
const DAY = Date.UTC(2026, 0, 10);

/** 100 rules: per leading digit of the device number, 8 above-rules and a below-rule; 10 no_data rules. */
function rulesYaml() {
  const lines = ['rules:'];
  for (let digit = 0; digit < 10; digit++) {
    for (let k = 0; k < 8; k++)
      lines.push(
        `  - {name: warm-${digit}-${k}, devices: "dev-${digit}*", above: ${80 + k}, for: ${k}m, clear: ${75 + k}}`,
      );
    lines.push(`  - {name: cold-${digit}, devices: "dev-${digit}*", below: 35, clear: 40}`);
    lines.push(`  - {name: silent-${digit}, devices: "dev-${digit}???", no_data_for: 10m}`);
  }
  return lines.join('\n');
}

const server = await RedisServer.start();
const redis = connect({ url: server.url });
let round = 0;

/** A fresh prefix whose one partition holds READINGS readings of DEVICES devices, a random walk in °F. */
async function partition() {
  const keys = new PipelineKeys(`bench${round++}`);
  const stream = keys.partitionKeyFor(DAY);
  const temps = new Float64Array(DEVICES).fill(60);
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < READINGS; i += 1000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(READINGS, i + 1000); j++) {
      const d = j % DEVICES;
      temps[d] = Math.min(110, Math.max(10, temps[d] + Math.round((random() - 0.5) * 10)));
      const device = `dev-${String(d).padStart(4, '0')}`;
      pipeline.xadd(
        stream,
        '*',
        ...encodeReading({ device, ts: DAY + Math.floor(j / DEVICES) * 60_000, temp_f: temps[d] }),
      );
    }
    await pipeline.exec();
  }
  return { keys, stream };
}

async function bareLoop({ stream }) {
  let read = 0;
  const loop = new ConsumerLoop({
    redis,
    group: 'bare',
    consumer: 'c1',
    count: COUNT,
    blockMs: 50,
    // As the alerter reads: the next batch while this one is handled.
    prefetch: true,
    streams: () => [stream],
    handle: async (batches) => {
      for (const b of batches) {
        read += b.entries.length;
        await new ConsumerGroup(redis, 'bare', [stream]).ack(stream, ...b.entries.map((e) => e.id));
      }
    },
    onIdle: async () => {
      if (read >= READINGS) void loop.stop();
    },
  });
  const started = performance.now();
  await loop.run();
  return (performance.now() - started) / 1000;
}

async function alerter({ keys }, rules) {
  const core = new Alerter(
    {
      rules,
      group: 'alerter',
      consumer: 'alerter',
      drain: true,
      count: COUNT,
      blockMs: 50,
      leaseTtlMs: 15_000,
      holder: 'bench',
      silenceCheckMs: 1000,
    },
    { redis, keys, log: silentLogger },
  );
  const started = performance.now();
  await core.run();
  const seconds = (performance.now() - started) / 1000;
  if (core.applied !== READINGS) throw new Error(`applied ${core.applied} of ${READINGS}`);
  return { seconds, transitions: await redis.xlen(keys.alerts) };
}

try {
  const rules = parseRules(rulesYaml());
  const figures = { readings: READINGS, devices: DEVICES, rules: rules.length, rounds: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const bare = await bareLoop(await partition());
    const mine = await alerter(await partition(), rules);
    figures.rounds.push({
      bare: READINGS / bare,
      alerter: READINGS / mine.seconds,
      transitions: mine.transitions,
    });
    console.log(
      `round ${r + 1}: bare consumer-group loop ${Math.round(READINGS / bare)} readings/s; ` +
        `alerter (${rules.length} rules, ${DEVICES} devices) ${Math.round(READINGS / mine.seconds)} readings/s ` +
        `(${mine.transitions} transitions); ratio ${(bare / mine.seconds).toFixed(2)}`,
    );
  }
  const best = (k) => Math.max(...figures.rounds.map((x) => x[k]));
  figures.bare = best('bare');
  figures.alerter = best('alerter');
  console.log(
    `best of ${ROUNDS}: alerter ${Math.round(figures.alerter)} readings/s beside the bare loop's ${Math.round(figures.bare)}: ` +
      `${(figures.alerter / figures.bare).toFixed(2)}x (target >= 0.7x)`,
  );
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(figures));
} finally {
  redis.disconnect();
  await server.stop();
}
