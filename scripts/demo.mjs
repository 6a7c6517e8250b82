#!/usr/bin/env node
// `pnpm demo`: the whole pipeline on this machine. The producer simulates several devices in
// accelerated time, the aggregator publishes hourly averages, the reaper watches the groups, the alerter
// applies apps/alerter/rules.example.yaml and the dashboard shows them. Uses REDIS_URL when set; otherwise a private redis-server on a free port.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const children = [];
let cleanup = async () => {};

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

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
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

const redisUrl = process.env.REDIS_URL || (await startPrivateRedis());
const port = Number(process.env.PORT) || (await freePort());
const env = {
  REDIS_URL: redisUrl,
  PIPE_PRETTY_LOGS: process.env.PIPE_PRETTY_LOGS ?? '1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};

console.error(`[demo] redis ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
start('viewer', 'averages-viewer', ['serve', '--port', String(port), '--host', '127.0.0.1'], env);
// The simulated clock runs ahead of the real one, so stream time may too (a year of demo time).
start(
  'aggregator',
  'aggregator',
  ['run', '--grace', '1s', '--idle-close', '30s', '--max-ahead', '365d'],
  env,
);
start('reaper', 'reaper', ['run', '--min-idle', '10s', '--interval', '5s'], env);
// Alert rules that fire and resolve within the first minutes (apps/alerter/rules.example.yaml).
start('alerter', 'alerter', ['run', '--rules', join(root, 'apps', 'alerter', 'rules.example.yaml')], env);
// One simulated hour every 10 s of wall time, so averages appear within seconds.
start('producer', 'producer', ['run', '--devices', '5', '--interval', '1s', '--speed', '360'], env);

setTimeout(() => {
  console.log('');
  console.log('Dashboard:');
  console.log(`http://127.0.0.1:${port}/`);
  console.log('(Ctrl-C stops everything)');
  console.log('');
}, 500);
