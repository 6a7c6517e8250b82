#!/usr/bin/env node
// `pnpm producer ...` and friends: builds the app and what it depends on (turbo, cached), then runs its
// executable with the remaining arguments, passing signals through and its exit status back.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [target, ...args] = process.argv.slice(2);
const scripts = {
  demo: 'scripts/demo.mjs',
  bench: 'scripts/bench.mjs',
  acl: 'scripts/acl.mjs',
  functions: 'scripts/functions.mjs',
  plan: 'scripts/plan.mjs',
};

let entry;
let filter;
if (scripts[target]) {
  entry = join(root, scripts[target]);
} else {
  const dir = join(root, 'apps', target);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  entry = join(dir, Object.values(pkg.bin)[0]);
  filter = `${pkg.name}...`;
}

const built = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'build', ...(filter ? [`--filter=${filter}`] : []), '--output-logs=errors-only'],
  {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  },
);
if (built.status !== 0) {
  process.stderr.write(built.stdout + built.stderr);
  process.exit(built.status ?? 1);
}

const child = spawn(process.execPath, [entry, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)));
