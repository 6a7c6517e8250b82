import { partitionEntries, startProducer } from '@pipe/fixtures';
import { freePort, Mosquitto, RedisServer, randomPrefix, type TestProcess, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `pipe-producer mqtt` as a process, where the process is the subject: kill -9 while messages flow, the
// broker restarted under it, Redis away for 10 s. Each test has its own broker and redis-server.

let broker: Mosquitto;
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  broker = await Mosquitto.start();
  server = await RedisServer.start({ aof: 'always' });
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
});
afterAll(async () => {
  redis?.disconnect();
  await broker?.stop();
  await server?.stop();
});

interface Run {
  prefix: string;
  root: string;
  clientId: string;
  metricsPort: number;
}

async function newRun(): Promise<Run> {
  const prefix = randomPrefix('mqtt');
  return { prefix, root: randomPrefix('site'), clientId: `bridge-${prefix}`, metricsPort: await freePort() };
}

function startBridge(run: Run): TestProcess {
  return startProducer([
    'mqtt',
    '--redis-url',
    server.url,
    '--prefix',
    run.prefix,
    '--mqtt-url',
    broker.url,
    '--topic',
    `${run.root}/+/readings`,
    '--client-id',
    run.clientId,
    '--metrics-port',
    String(run.metricsPort),
  ]);
}

/** Messages the bridge acknowledged after writing every reading (its metric). */
async function acked(run: Run): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${run.metricsPort}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return Number(
    /pipe_producer_mqtt_messages_total\{outcome="written",service="producer"\} (\d+)/.exec(text)?.[1] ?? 0,
  );
}

async function bridgeSubscribed(run: Run): Promise<void> {
  // The session's subscription exists once the broker delivers: the first message's reading lands.
  await waitFor(
    'the bridge',
    async () =>
      await fetch(`http://127.0.0.1:${run.metricsPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    20_000,
  );
}

/** Publishes `count` readings (one per message, QoS 1) from `from` on; a publish that fails is sent again. */
async function publish(
  client: MqttClient,
  run: Run,
  from: number,
  count: number,
  base: number,
): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const payload = JSON.stringify({ ts: base - i, temp_f: 50 + (i % 40) });
    for (;;) {
      try {
        await client.publishAsync(`${run.root}/dev-${i % 7}/readings`, payload, { qos: 1 });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

async function expectEachOnce(run: Run, count: number): Promise<void> {
  await waitFor(
    'every reading',
    async () => (await partitionEntries(redis, run.prefix)).length >= count,
    30_000,
  );
  const seen = new Map<string, number>();
  for (const { fields } of await partitionEntries(redis, run.prefix)) {
    const key = `${fields.device}@${fields.ts}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  expect(seen.size).toBe(count);
  expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
}

/**
 * Waits for the bridge to answer, then publishes reading 0 until it lands (the session's subscription is in
 * place from then on); returns the time the readings count back from.
 */
async function firstReadingLands(run: Run, publisher: MqttClient): Promise<number> {
  await bridgeSubscribed(run);
  const base = Date.now();
  await waitFor('subscribed', async () => {
    await publish(publisher, run, 0, 1, base);
    return (await partitionEntries(redis, run.prefix)).length > 0;
  });
  return base;
}

describe('the pipe-producer mqtt process', () => {
  it('writes every reading once when killed with -9 while messages flow and restarted with the same client id', async () => {
    const run = await newRun();
    const publisher = await connectAsync(broker.url, { clientId: randomPrefix('pub') });
    let bridge = startBridge(run);
    try {
      const base = await firstReadingLands(run, publisher);
      const publishing = publish(publisher, run, 1, 2999, base);
      for (let kill = 0; kill < 3; kill++) {
        const before = (await partitionEntries(redis, run.prefix)).length;
        await waitFor(
          'readings flowing',
          async () => (await partitionEntries(redis, run.prefix)).length > before + 100,
          30_000,
          5,
        );
        bridge.kill('SIGKILL');
        await bridge.exited;
        bridge = startBridge(run);
      }
      await publishing;
      await expectEachOnce(run, 3000);
    } finally {
      bridge.kill('SIGKILL');
      await publisher.endAsync();
    }
  });

  it('loses nothing when the broker restarts mid-stream', async () => {
    const run = await newRun();
    const publisher = await connectAsync(broker.url, {
      clientId: randomPrefix('pub'),
      clean: false,
      reconnectPeriod: 200,
    });
    const bridge = startBridge(run);
    try {
      const base = await firstReadingLands(run, publisher);
      const publishing = publish(publisher, run, 1, 1999, base);
      await waitFor(
        'readings flowing',
        async () => (await partitionEntries(redis, run.prefix)).length > 300,
        30_000,
        5,
      );
      await broker.restart({ downMs: 500 });
      await publishing;
      await expectEachOnce(run, 2000);
    } finally {
      bridge.kill('SIGKILL');
      await publisher.endAsync();
    }
  });

  it('acknowledges nothing while Redis is down for 10 s: killed then, its successor writes everything', async () => {
    const run = await newRun();
    const publisher = await connectAsync(broker.url, { clientId: randomPrefix('pub') });
    let bridge = startBridge(run);
    try {
      const base = await firstReadingLands(run, publisher);
      await publish(publisher, run, 1, 99, base);
      await waitFor(
        'the first 100 written',
        async () => (await partitionEntries(redis, run.prefix)).length >= 100,
      );
      await server.kill();
      const down = Date.now();
      await publish(publisher, run, 100, 200, base);
      const ackedWhileDown: number[] = [];
      while (Date.now() - down < 10_000) {
        ackedWhileDown.push(await acked(run));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // Nothing written while down (the count of the first sample never moves), and nothing acknowledged:
      // killed now, a bridge that had sent a PUBACK for an unwritten message would lose its reading.
      expect(new Set(ackedWhileDown)).toEqual(new Set([ackedWhileDown[0]]));
      bridge.kill('SIGKILL');
      await bridge.exited;
      await server.restart();
      bridge = startBridge(run);
      await expectEachOnce(run, 300);
    } finally {
      bridge.kill('SIGKILL');
      await publisher.endAsync();
    }
  });
});
