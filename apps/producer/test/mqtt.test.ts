import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { partitionEntries } from '@pipe/fixtures';
import { freePort, Mosquitto, RedisServer, randomPrefix, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mqttCommand } from '../src/commands/mqtt.js';
import { mqttConfig, mqttSchema } from '../src/config.js';
import { type Flags, textSink } from './in-process.js';

// `pipe-producer mqtt` in the test's process against a real mosquitto and the shared redis-server (its
// own for the outage). The process itself (kill -9, broker restarts, a 10 s outage) is in mqtt.system.test.ts.

const redisUrl = inject('redisUrl');
let redis: Redis;
let broker: Mosquitto;
let publisher: MqttClient;

beforeAll(async () => {
  redis = new Redis(redisUrl);
  broker = await Mosquitto.start();
  publisher = await connectAsync(broker.url, { clientId: randomPrefix('pub') });
});
afterAll(async () => {
  await publisher?.endAsync();
  await broker?.stop();
  redis.disconnect();
});

interface Bridge {
  prefix: string;
  root: string;
  metricsUrl: string;
  stop(): Promise<number>;
  done: Promise<number>;
}

async function startBridge(flags: Flags = {}, url = redisUrl): Promise<Bridge> {
  const prefix = randomPrefix('mqtt');
  const root = randomPrefix('site');
  const metricsPort = await freePort();
  const config = mqttSchema.parse({
    redisUrl: url,
    prefix,
    mqttUrl: broker.url,
    topic: [`${root}/+/readings`],
    clientId: `bridge-${prefix}`,
    metricsPort: String(metricsPort),
    ...flags,
  });
  const stopper = new AbortController();
  const sink = textSink();
  const log = pino({ level: 'warn', base: { service: 'producer' } }, sink);
  const io = { stdin: process.stdin, stdout: sink, stderr: sink, handleSignals: false };
  const done = mqttCommand(config, log, io, { stop: stopper.signal });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitFor('the bridge subscribed', async () => {
    const text = await fetch(metricsUrl).then(
      (r) => r.text(),
      () => '',
    );
    return text.includes('pipe_producer_mqtt_messages_total');
  });
  // Subscribed once the broker lists the subscription: publish a probe nobody else reads.
  await waitFor('the subscription', async () => {
    await publisher.publishAsync(`${root}/probe/readings`, 'probe', { qos: 1 });
    return /pipe_producer_mqtt_messages_total\{outcome="rejected"/.test(
      await fetch(metricsUrl).then((r) => r.text()),
    );
  });
  return {
    prefix,
    root,
    metricsUrl,
    done,
    stop() {
      stopper.abort();
      return done;
    },
  };
}

async function storedTimes(client: Redis, prefix: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const { fields } of await partitionEntries(client, prefix)) {
    const key = `${fields.device}@${fields.ts}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

const metricValue = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);

describe('pipe-producer mqtt', () => {
  it('reads repeated --topic flags and a comma-separated MQTT_TOPICS, refusing a malformed filter', () => {
    expect(mqttConfig.read({ topic: ['a/+/r', 'b/+/r'] }, {}).topic).toEqual(['a/+/r', 'b/+/r']);
    expect(mqttConfig.read({}, { MQTT_TOPICS: 'a/+/r, b/#' }).topic).toEqual(['a/+/r', 'b/#']);
    expect(mqttConfig.read({}, {}).topic).toEqual(['sensors/+/readings']);
    expect(() => mqttConfig.read({ topic: ['a/x+/r'] }, {})).toThrow(/topic filter/);
    expect(() => mqttConfig.read({ mqttUrl: 'http://x' }, {})).toThrow(/mqtt:\/\//);
  });

  it('writes readings published with QoS 1 by MQTT.js and by mosquitto_pub, each exactly once', async () => {
    const bridge = await startBridge();
    try {
      const now = Date.now();
      const expected = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const device = `dev-${i % 5}`;
        const ts = now - i * 1000;
        expected.add(`${device}@${ts}`);
        await publisher.publishAsync(
          `${bridge.root}/${device}/readings`,
          JSON.stringify({ ts, temp_f: 70 + i / 10 }),
          { qos: 1 },
        );
      }
      // An array of readings in one message.
      const batch = Array.from({ length: 10 }, (_, i) => ({
        ts: now - 500_000 - i,
        temp_f: 60,
        humidity: 40,
      }));
      for (const r of batch) expected.add(`dev-array@${r.ts}`);
      await publisher.publishAsync(`${bridge.root}/dev-array/readings`, JSON.stringify(batch), { qos: 1 });
      for (let i = 0; i < 10; i++) {
        const ts = now - 700_000 - i;
        expected.add(`dev-cli@${ts}`);
        await promisify(execFile)('mosquitto_pub', [
          '-p',
          String(broker.port),
          '-q',
          '1',
          '-t',
          `${bridge.root}/dev-cli/readings`,
          '-m',
          JSON.stringify({ ts, temp_f: 55.5 }),
        ]);
      }
      await waitFor(
        'every reading',
        async () => (await partitionEntries(redis, bridge.prefix)).length >= expected.size,
      );
      const stored = await storedTimes(redis, bridge.prefix);
      expect(new Set(stored.keys())).toEqual(expected);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
    } finally {
      expect(await bridge.stop()).toBe(0);
    }
  });

  it('rejects bad payloads with reasons, counts them, writes them to --rejects and keeps going', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqtt-rejects-'));
    const rejects = join(dir, 'rejects.ndjson');
    const bridge = await startBridge({ rejects });
    try {
      const now = Date.now();
      const topic = `${bridge.root}/dev-1/readings`;
      await publisher.publishAsync(topic, 'not json', { qos: 1 });
      await publisher.publishAsync(topic, JSON.stringify({ ts: now, temp_f: 'warm' }), { qos: 1 });
      await publisher.publishAsync(topic, JSON.stringify({ device: 'other', ts: now, temp_f: 1 }), {
        qos: 1,
      });
      await publisher.publishAsync(topic, Buffer.alloc(1024 * 1024, 0x20), { qos: 1 });
      await publisher.publishAsync(`${bridge.root}//readings`, JSON.stringify({ ts: now, temp_f: 1 }), {
        qos: 1,
      });
      await publisher.publishAsync(topic, JSON.stringify([{ ts: now - 1, temp_f: 50 }, 7]), { qos: 1 });
      await waitFor(
        'the good reading',
        async () => (await partitionEntries(redis, bridge.prefix)).length === 1,
      );
      const lines = (await readFile(rejects, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { topic: string; index: number | null; reason: string; payload: string })
        .filter((r) => r.payload !== 'probe');
      // Messages are written concurrently: their rejections come in any order.
      expect(lines.map((l) => l.reason)).toHaveLength(6);
      expect(lines.map((l) => l.reason)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^not JSON/),
          expect.stringMatching(/^temp_f/),
          'device: "other" differs from the topic\'s dev-1',
          expect.stringMatching(/^payload of 1048576 bytes is over --max-payload/),
          expect.stringMatching(/empty device level/),
          'not a JSON object',
        ]),
      );
      expect(lines.find((l) => l.reason === 'not a JSON object')!.index).toBe(1);
      const metrics = await fetch(bridge.metricsUrl).then((r) => r.text());
      // The probe of startBridge, the five bad messages and the half-good one.
      expect(
        metricValue(
          metrics,
          /pipe_producer_mqtt_messages_total\{outcome="rejected",service="producer"\} (\d+)/,
        ),
      ).toBeGreaterThanOrEqual(7);
      expect(metricValue(metrics, /pipe_producer_readings_written_total\{service="producer"\} (\d+)/)).toBe(
        1,
      );
    } finally {
      await bridge.stop();
    }
  });

  it('acknowledges nothing while Redis is down, holds at most --max-in-flight messages, and writes every reading once it is back, the messages it held together', async () => {
    const server = await RedisServer.start();
    const direct = new Redis(server.url, { lazyConnect: true });
    const bridge = await startBridge({ maxInFlight: '5' }, server.url);
    try {
      const messagesAcked = async () =>
        metricValue(
          await fetch(bridge.metricsUrl).then((r) => r.text()),
          /pipe_producer_mqtt_messages_total\{outcome="written",service="producer"\} (\d+)/,
        );
      await server.kill();
      const now = Date.now();
      for (let i = 0; i < 30; i++)
        await publisher.publishAsync(
          `${bridge.root}/dev-${i % 3}/readings`,
          JSON.stringify({ ts: now - i, temp_f: 70 }),
          { qos: 1 },
        );
      await waitFor(
        'the bridge retrying',
        async () => (await fetch(bridge.metricsUrl.replace('/metrics', '/readyz'))).status === 503,
      );
      // Absence needs a span to hold over: the bridge has retried by now, and acknowledged nothing.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await messagesAcked()).toBe(0);
      // Bounded: with --max-in-flight 5 in hand it reads no further packet; the broker keeps the other 24.
      const inHand = metricValue(
        await fetch(bridge.metricsUrl).then((r) => r.text()),
        /pipe_producer_mqtt_messages_in_hand\{service="producer"\} (\d+)/,
      );
      expect(inHand).toBe(6);
      await server.restart();
      await waitFor('all acknowledged', async () => (await messagesAcked()) === 30, 30_000);
      await direct.connect();
      const stored = await storedTimes(direct, bridge.prefix);
      expect(stored.size).toBe(30);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
      // The messages that waited while both writes retried went together, in one script call: fewer
      // calls than messages (at most 27 of them: 30 less the 4 that waited, plus their one call).
      const calls = metricValue(
        await fetch(bridge.metricsUrl).then((r) => r.text()),
        /pipe_producer_batch_seconds_count\{service="producer"\} (\d+)/,
      );
      expect(calls).toBeGreaterThan(0);
      expect(calls).toBeLessThanOrEqual(27);
    } finally {
      await bridge.stop();
      direct.disconnect();
      await server.stop();
    }
  });
});
