import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { partitionEntries } from '@pipe/fixtures';
import { generateTlsFiles, Mosquitto, randomPrefix, type TlsFiles, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mqttCommand } from '../src/commands/mqtt.js';
import { mqttSchema } from '../src/config.js';
import { type Flags, textSink } from './in-process.js';

// `pipe-producer mqtt` against a real mosquitto that serves mqtts:// only, wants a client certificate
// signed by its CA and a user from its password_file (anonymous clients refused).

const redisUrl = inject('redisUrl');
const PASSWORD = 'bridge-pw-5d2e';
let redis: Redis;
let tls: TlsFiles;
let otherCa: TlsFiles;
let broker: Mosquitto;
let publisher: MqttClient;

beforeAll(async () => {
  redis = new Redis(redisUrl);
  [tls, otherCa] = await Promise.all([generateTlsFiles(), generateTlsFiles()]);
  broker = await Mosquitto.start({
    tls,
    requireClientCertificate: true,
    users: { bridge: PASSWORD, device: 'device-pw' },
  });
  publisher = await connectAsync(broker.url, {
    clientId: randomPrefix('pub'),
    username: 'device',
    password: 'device-pw',
    ca: readFileSync(tls.ca),
    cert: readFileSync(tls.clientCert),
    key: readFileSync(tls.clientKey),
  });
});
afterAll(async () => {
  await publisher?.endAsync();
  await broker?.stop();
  for (const files of [tls, otherCa]) if (files) await rm(files.dir, { recursive: true, force: true });
  redis.disconnect();
});

interface BridgeRun {
  prefix: string;
  root: string;
  done: Promise<number>;
  stop(): Promise<number>;
  /** What the command wrote on stderr and logged. */
  output(): string;
}

function startBridge(flags: Flags): BridgeRun {
  const prefix = randomPrefix('mqtts');
  const root = randomPrefix('site');
  const config = mqttSchema.parse({
    redisUrl,
    prefix,
    mqttUrl: broker.url,
    topic: [`${root}/+/readings`],
    clientId: `bridge-${prefix}`,
    mqttUsername: 'bridge',
    mqttPassword: PASSWORD,
    mqttCa: tls.ca,
    mqttCert: tls.clientCert,
    mqttKey: tls.clientKey,
    ...flags,
  });
  const stopper = new AbortController();
  const sink = textSink();
  const log = pino({ level: 'debug', base: { service: 'producer' } }, sink);
  const done = mqttCommand(
    config,
    log,
    { stdin: process.stdin, stdout: sink, stderr: sink, handleSignals: false },
    {
      stop: stopper.signal,
    },
  );
  return {
    prefix,
    root,
    done,
    stop() {
      stopper.abort();
      return done;
    },
    output: () => sink.text(),
  };
}

/** Exits 3 within a few seconds (not after reconnecting for ever), with the reason, and never the password. */
async function expectRefused(run: BridgeRun, reason: RegExp): Promise<void> {
  const started = Date.now();
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 10_000));
  const code = await Promise.race([run.done, timeout]);
  if (code === 'still running') await run.stop();
  expect(code).toBe(3);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(run.output()).toMatch(
    new RegExp(
      `^mqtt: cannot use the MQTT broker at mqtts://127\\.0\\.0\\.1:${broker.port}: ${reason.source}`,
      'm',
    ),
  );
  expect(run.output()).not.toContain(PASSWORD);
  expect(run.output()).not.toContain('wrong-pw');
}

describe('pipe-producer mqtt over TLS with credentials', () => {
  it('writes the readings of an mqtts:// broker with the CA, a client certificate and a user of its password file', async () => {
    const run = startBridge({});
    try {
      const ts = Date.now() - 1000;
      await waitFor('the reading written', async () => {
        // Published until it lands: the bridge's subscription is in place from some moment on.
        await publisher.publishAsync(`${run.root}/dev-tls/readings`, JSON.stringify({ ts, temp_f: 71.5 }), {
          qos: 1,
        });
        return (await partitionEntries(redis, run.prefix)).length > 0;
      });
      const entries = await partitionEntries(redis, run.prefix);
      expect(entries.map((e) => [e.fields.device, e.fields.ts, e.fields.temp_f])).toEqual([
        ['dev-tls', String(ts), '71.5'],
      ]);
    } finally {
      expect(await run.stop()).toBe(0);
    }
    expect(run.output()).not.toContain(PASSWORD);
  });

  it('stops at start-up (exit 3) when the broker refuses the password, naming why and not the password', async () => {
    await expectRefused(startBridge({ mqttPassword: 'wrong-pw-91c' }), /not authorized/);
  });

  it('stops at start-up (exit 3) when the broker refuses a client without a user', async () => {
    await expectRefused(startBridge({ mqttUsername: undefined, mqttPassword: undefined }), /not authorized/);
  });

  it('refuses a broker whose certificate another CA signed (exit 3)', async () => {
    await expectRefused(
      startBridge({ mqttCa: otherCa.ca }),
      /TLS handshake failed: .*\((SELF_SIGNED|UNABLE_TO)/,
    );
  });

  it('stops (exit 3) when the broker refuses the handshake of a client without a certificate', async () => {
    await expectRefused(
      startBridge({ mqttCert: undefined, mqttKey: undefined }),
      /TLS handshake failed: tlsv13 alert certificate required \(ERR_SSL_/,
    );
  });
});
