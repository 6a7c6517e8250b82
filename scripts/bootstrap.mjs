#!/usr/bin/env node
// Brings a fresh clone to a runnable state with only Node.js and npm present: the pinned pnpm,
// the workspace dependencies (frozen lockfile) and a build. Fast and quiet when all is in place.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const quiet = process.argv.includes('--quiet');
const say = (line) => quiet || console.error(`[bootstrap] ${line}`);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 11)) {
  console.error(`pipe needs Node.js 20.11 or newer; this is ${process.version}.`);
  process.exit(1);
}

function pnpmVersion() {
  try {
    return execFileSync('pnpm', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (result.status !== 0) {
    console.error(`[bootstrap] ${cmd} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

if (pnpmVersion() !== pinned) {
  say(`installing pnpm@${pinned} with npm`);
  run('npm', ['install', '--global', `pnpm@${pinned}`]);
}

const lockfile = join(root, 'pnpm-lock.yaml');
const installed = join(root, 'node_modules', '.modules.yaml');
if (!existsSync(installed) || statSync(lockfile).mtimeMs > statSync(installed).mtimeMs) {
  say('installing dependencies (frozen lockfile)');
  run('pnpm', ['install', '--frozen-lockfile']);
}

if (!process.argv.includes('--no-build')) {
  say('building');
  run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}
