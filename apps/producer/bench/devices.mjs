#!/usr/bin/env node
// Devices benchmark (a script, not a test): readings from devices through `pipe-producer http` and
// `pipe-producer mqtt`, each beside a bare baseline measured in the same run on the same redis-server:
//   HTTP: 1,000-reading NDJSON requests driven by autocannon over CONCURRENCY connections to the endpoint
//         (--no-auth) and to a bare node:http handler that pipelines XADDs (bench/bare-http.mjs);
//   MQTT: one reading per QoS 1 message, published by PUBLISHERS MQTT.js clients through a real mosquitto,
//         to the bridge and to a bare MQTT.js subscriber that pipelines XADDs (bench/bare-mqtt.mjs), best of
//         MQTT_ROUNDS (env, default 3) rounds each.
// Rates are readings/s from the first request or publish until every reading is in Redis. Target: ≥ 0.8×.
// Usage: node bench/devices.mjs [http-readings] [mqtt-messages]   (build first; 0 http-readings skips HTTP)
// With env BENCH_JSON=<file> it also writes its figures there as JSON.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { freePort, Mosquitto, RedisServer } from '@pipe/testkit';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { connectAsync } from 'mqtt';

const HTTP_READINGS = Number(process.argv[2] ?? 200_000);
const MQTT_MESSAGES = Number(process.argv[3] ?? 20_000);
const MQTT_ROUNDS = Number(process.env.MQTT_ROUNDS ?? 3);
const PUBLISHERS = 4;
const PUBLISHER_WINDOW = 100;
const PER_REQUEST = 1000;
const CONCURRENCY = 8;
const DEVICES = 100;
const main = new URL('../dist/main.js', import.meta.url).pathname;
const here = (file) => new URL(file, import.meta.url).pathname;

/** Distinct readings (the endpoint's ledger would skip repeated batches) of the last hour. */
const start = Date.now() - 3_600_000;
const reading = (i) => ({
  device: `sensor-${(i % DEVICES) + 1}`,
  ts: start + Math.floor(i / DEVICES),
  temp_f: 60 + (i % 30),
});

function startChild(args, ready) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (ready.test(out)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
}

async function stored(redis, pattern) {
  let total = 0;
  for (const key of await redis.keys(pattern)) if (!key.includes('}:')) total += await redis.xlen(key);
  return total;
}

async function until(redis, pattern, count) {
  while ((await stored(redis, pattern)) < count) await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * Sends HTTP_READINGS readings in PER_REQUEST-reading NDJSON bodies with autocannon (CONCURRENCY connections,
 * each body once); readings/s from the first request until every reading is in Redis.
 */
async function driveHttp(redis, port, pattern) {
  const bodies = [];
  for (let i = 0; i < HTTP_READINGS; i += PER_REQUEST) {
    const lines = [];
    for (let j = i; j < Math.min(i + PER_REQUEST, HTTP_READINGS); j++) lines.push(JSON.stringify(reading(j)));
    bodies.push(`${lines.join('\n')}\n`);
  }
  let next = 0;
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/readings`,
    connections: CONCURRENCY,
    amount: bodies.length,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        // Each body once: a repeated one would be skipped by the endpoint's ledger, not by the bare handler.
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  await until(redis, pattern, HTTP_READINGS);
  return HTTP_READINGS / ((performance.now() - started) / 1000);
}

/**
 * Publishes MQTT_MESSAGES one-reading messages (QoS 1) from PUBLISHERS clients at once, each with up to
 * PUBLISHER_WINDOW unacknowledged; readings/s from the first publish until every reading is in Redis.
 * Several publishers: one alone (200 unacknowledged) bounded the rate a subscriber that does nothing could
 * take (about 12k–19k messages/s with one, 17k–22k with two or four, on the 2 shared cores).
 */
async function driveMqtt(redis, broker, root, pattern) {
  const publishers = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, p) =>
      connectAsync(broker.url, { clientId: `bench-pub-${root}-${p}` }),
    ),
  );
  const started = performance.now();
  await Promise.all(
    publishers.map(async (publisher, p) => {
      const window = new Set();
      for (let i = p; i < MQTT_MESSAGES; i += PUBLISHERS) {
        const r = reading(i);
        const sent = publisher.publishAsync(
          `${root}/${r.device}/readings`,
          JSON.stringify({ ts: r.ts, temp_f: r.temp_f }),
          { qos: 1 },
        );
        window.add(sent);
        sent.finally(() => window.delete(sent));
        if (window.size >= PUBLISHER_WINDOW) await Promise.race(window);
      }
      await Promise.all(window);
    }),
  );
  await until(redis, pattern, MQTT_MESSAGES);
  const rate = MQTT_MESSAGES / ((performance.now() - started) / 1000);
  await Promise.all(publishers.map((publisher) => publisher.endAsync()));
  return rate;
}

const server = await RedisServer.start();
const broker = await Mosquitto.start();
const redis = new Redis(server.url);
const children = [];
try {
  const figures = {};
  // HTTP: the bare handler, then the endpoint, each on the same (flushed) server (0 readings: skipped).
  if (HTTP_READINGS > 0) {
    const barePort = await freePort();
    children.push(
      await startChild([here('./bare-http.mjs'), server.url, 'bare:http', String(barePort)], /listening/),
    );
    const bareHttp = await driveHttp(redis, barePort, 'bare:http');
    await redis.flushall();
    const port = await freePort();
    const args = [
      main,
      'http',
      '--no-auth',
      '--port',
      String(port),
      '--redis-url',
      server.url,
      '--prefix',
      'bh',
      '--log-level',
      'info',
    ];
    children.push(await startChild(args, /"listening"/));
    const endpoint = await driveHttp(redis, port, 'bh:*');
    await redis.flushall();
    figures.http = {
      readings: HTTP_READINGS,
      perRequest: PER_REQUEST,
      concurrency: CONCURRENCY,
      bare: bareHttp,
      endpoint,
    };
    console.log(
      `HTTP (autocannon), ${HTTP_READINGS} readings in ${PER_REQUEST}-reading requests, ${CONCURRENCY} connections`,
    );
    console.log(`  bare node:http + pipelined XADDs   ${Math.round(bareHttp)} readings/s`);
    console.log(
      `  pipe-producer http                 ${Math.round(endpoint)} readings/s   ratio ${(endpoint / bareHttp).toFixed(2)}`,
    );
  }

  // MQTT: the bare subscriber and the bridge side by side, then MQTT_ROUNDS rounds of one run each on a
  // flushed server (their functions survive FLUSHALL); the best round of each counts.
  children.push(
    await startChild(
      [here('./bare-mqtt.mjs'), server.url, 'bare:mqtt', broker.url, 'bare/+/readings'],
      /subscribed/,
    ),
  );
  const bridgeArgs = [
    main,
    'mqtt',
    '--mqtt-url',
    broker.url,
    '--topic',
    'bridge/+/readings',
    '--redis-url',
    server.url,
    '--prefix',
    'bm',
    '--log-level',
    'info',
  ];
  children.push(await startChild(bridgeArgs, /connected to the mqtt broker/));
  await new Promise((resolve) => setTimeout(resolve, 500)); // its SUBSCRIBE follows the CONNACK
  const rounds = [];
  for (let round = 0; round < MQTT_ROUNDS; round++) {
    await redis.flushall();
    const bare = await driveMqtt(redis, broker, 'bare', 'bare:mqtt');
    await redis.flushall();
    const bridge = await driveMqtt(redis, broker, 'bridge', 'bm:*');
    rounds.push({ bare, bridge });
  }
  const bareMqtt = Math.max(...rounds.map((r) => r.bare));
  const bridge = Math.max(...rounds.map((r) => r.bridge));
  // Each round's ratio too: on shared cores one side's lucky round can make the best-of ratio swing.
  const roundRatios = rounds.map((r) => r.bridge / r.bare).sort((a, b) => a - b);
  const medianRatio = roundRatios[Math.floor(roundRatios.length / 2)];
  figures.mqtt = {
    messages: MQTT_MESSAGES,
    readingsPerMessage: 1,
    publishers: PUBLISHERS,
    rounds,
    bare: bareMqtt,
    bridge,
    medianRoundRatio: medianRatio,
  };
  console.log(
    `MQTT, ${MQTT_MESSAGES} QoS 1 messages of one reading through mosquitto from ${PUBLISHERS} publishers, best of ${MQTT_ROUNDS} rounds`,
  );
  console.log(
    `  rounds (bare / bridge)             ${rounds.map((r) => `${Math.round(r.bare)} / ${Math.round(r.bridge)}`).join(', ')}`,
  );
  console.log(`  bare MQTT.js subscriber + XADDs    ${Math.round(bareMqtt)} readings/s`);
  console.log(
    `  pipe-producer mqtt                 ${Math.round(bridge)} readings/s   ratio ${(bridge / bareMqtt).toFixed(2)} (median of the rounds' ratios ${medianRatio.toFixed(2)})`,
  );
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));
} finally {
  for (const child of children) child.kill('SIGKILL');
  redis.disconnect();
  await broker.stop();
  await server.stop();
}
