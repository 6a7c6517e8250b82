#!/usr/bin/env node
// `pnpm demo`: the whole pipeline on this machine. The producer simulates several devices in
// accelerated time, the aggregator publishes hourly averages, the reaper watches the groups, the alerter
// applies apps/alerter/rules.example.yaml and the dashboard shows them. Uses REDIS_URL when set; otherwise
// a private redis-server on a free port.
// With DEMO_MQTT_URL=mqtt://host:1883 the readings go through an MQTT broker instead: the producer runs
// as the MQTT bridge (`pipe-producer mqtt`, topic sensors/+/readings) and demo devices publish to the
// broker, so real devices can publish there too.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const children = [];
let cleanup = async () => {};
let stopDevices = async () => {};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return Boolean(dir);
    } catch {
      return false;
    }
  });
}

async function startPrivateRedis() {
  if (!onPath('redis-server')) {
    console.error('pnpm demo needs Redis: set REDIS_URL=redis://host:port, or install redis-server:');
    console.error('  Debian/Ubuntu: sudo apt-get install -y redis-server');
    console.error('  Fedora/RHEL:   sudo dnf install -y redis');
    console.error('  macOS:         brew install redis');
    console.error(
      '  Windows:       use WSL2 and the Debian/Ubuntu line above, or Docker: docker run -p 6379:6379 redis:7',
    );
    process.exit(1);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pipe-demo-redis-'));
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  cleanup = async () => {
    // Wait for redis-server to exit (and be reaped) before the demo itself exits.
    const exited =
      redis.exitCode !== null || redis.signalCode !== null ? null : new Promise((r) => redis.once('exit', r));
    redis.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  await new Promise((r) => setTimeout(r, 300));
  return `redis://127.0.0.1:${port}`;
}

function start(name, app, args, env) {
  const child = spawn(process.execPath, [join(root, 'apps', app, 'dist', 'main.js'), ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`[demo] ${name} exited (${code ?? signal}); stopping the demo`);
    if (!stopping) stop(1);
  });
  children.push(child);
  return child;
}

/**
 * Connects the demo devices' publisher to the broker (MQTT.js, the producer's own dependency), with the
 * bridge's MQTT_USERNAME/MQTT_PASSWORD; exits the demo with the reason when the broker is not reachable.
 */
async function connectDemoDevices(url) {
  const { connectAsync } = createRequire(join(root, 'apps', 'producer', 'package.json'))('mqtt');
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref(),
  );
  try {
    const connecting = connectAsync(url, {
      clientId: `pipe-demo-devices-${process.pid}`,
      username: process.env.MQTT_USERNAME,
      password: process.env.MQTT_PASSWORD,
      reconnectPeriod: 1000,
    });
    return await Promise.race([connecting, timeout]);
  } catch (err) {
    console.error(`[demo] no MQTT broker at DEMO_MQTT_URL=${redact(url)}: ${err.message}`);
    console.error(
      '  start one (Debian/Ubuntu: sudo apt-get install -y mosquitto; macOS: brew install mosquitto;',
    );
    console.error(
      '  Docker: docker run -p 1883:1883 eclipse-mosquitto:2 mosquitto -c /mosquitto-no-auth.conf)',
    );
    console.error('  or leave DEMO_MQTT_URL unset: the producer then simulates the devices itself');
    await cleanup();
    process.exit(1);
  }
}

/**
 * Five demo devices publishing to sensors/<device>/readings (QoS 1, a JSON array per message): the last
 * six hours first, 360 times faster than real time so hourly averages appear within a minute, then one
 * reading per device per second at the real time, as a device would. Calls `live` once caught up.
 */
function publishDemoDevices(client, live) {
  const intervalMs = 1000;
  const speed = 360;
  const startedAt = Date.now();
  const from = Math.floor((startedAt - 6 * 3_600_000) / intervalMs) * intervalMs;
  const temps = [66, 68, 70, 72, 74];
  let next = from;
  let caughtUp = false;
  const timer = setInterval(() => {
    const now = Date.now();
    const until = Math.min(now, from + (now - startedAt) * speed);
    const batches = temps.map(() => []);
    for (; next <= until; next += intervalMs) {
      temps.forEach((temp, d) => {
        temps[d] = Math.min(100, Math.max(40, temp + (Math.random() - 0.5) * 0.4));
        batches[d].push({ ts: next, temp_f: Math.round(temps[d] * 10) / 10 });
      });
    }
    batches.forEach((readings, d) => {
      if (readings.length > 0)
        client.publish(`sensors/demo-00${d + 1}/readings`, JSON.stringify(readings), { qos: 1 });
    });
    if (!caughtUp && until === now) {
      caughtUp = true;
      live();
    }
  }, 100);
  return () => clearInterval(timer);
}

const redact = (url) => url.replace(/\/\/[^@/]*@/, '//***@');

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  await stopDevices();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
    ),
  );
  await cleanup();
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const mqttUrl = process.env.DEMO_MQTT_URL;
const redisUrl = process.env.REDIS_URL || (await startPrivateRedis());
// Before any service starts: a broker that is not there ends the demo with nothing left running.
const devices = mqttUrl ? await connectDemoDevices(mqttUrl) : undefined;
const port = Number(process.env.PORT) || (await freePort());
const env = {
  REDIS_URL: redisUrl,
  PIPE_PRETTY_LOGS: process.env.PIPE_PRETTY_LOGS ?? '1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};

console.error(`[demo] redis ${redact(redisUrl)}`);
start('viewer', 'averages-viewer', ['serve', '--port', String(port), '--host', '127.0.0.1'], env);
// The simulated clock runs ahead of the real one, so stream time may too (a year of demo time). Through
// MQTT, the bridge writes up to 100 messages at once and devices' messages land a few seconds of demo time
// out of order: a grace of 5 demo minutes (under a second of wall time while catching up) keeps them in.
start(
  'aggregator',
  'aggregator',
  ['run', '--grace', devices ? '5m' : '1s', '--idle-close', '30s', '--max-ahead', '365d'],
  env,
);
start('reaper', 'reaper', ['run', '--min-idle', '10s', '--interval', '5s'], env);
// Alert rules that fire and resolve within the first minutes (apps/alerter/rules.example.yaml).
start('alerter', 'alerter', ['run', '--rules', join(root, 'apps', 'alerter', 'rules.example.yaml')], env);
if (devices) {
  const { hostname, port: mqttPort } = new URL(mqttUrl);
  console.error(`[demo] mqtt ${redact(mqttUrl)}: the producer is the MQTT bridge of sensors/+/readings`);
  start('producer', 'producer', ['mqtt', '--mqtt-url', mqttUrl, '--client-id', 'pipe-demo-bridge'], env);
  const stopPublishing = publishDemoDevices(devices, () => {
    // From now on the demo devices publish at the real time: readings of a device of yours are not late.
    console.log('');
    console.log('The demo devices are live. Publish readings of your own device:');
    console.log(
      `mosquitto_pub -h ${hostname} -p ${mqttPort || 1883} -q 1 -t sensors/my-device/readings -m "{\\"ts\\":\\"$(date -u +%FT%TZ)\\",\\"temp_f\\":71.5}"`,
    );
    console.log('');
  });
  stopDevices = async () => {
    stopPublishing();
    await devices.endAsync();
  };
} else {
  // One simulated hour every 10 s of wall time, so averages appear within seconds.
  start('producer', 'producer', ['run', '--devices', '5', '--interval', '1s', '--speed', '360'], env);
}

setTimeout(() => {
  console.log('');
  console.log('Dashboard:');
  console.log(`http://127.0.0.1:${port}/`);
  console.log('(Ctrl-C stops everything)');
  console.log('');
}, 500);
