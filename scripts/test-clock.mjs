#!/usr/bin/env node
// `pnpm test:clock`: the test suites with the wall clock of every process they start (vitest, the
// services, redis-server) shifted to instants where calendar days, hours and UTC noon turn over. Each
// test file is run on its own, starting at the instant, so a test that assumes "now" is in the middle
// of a day or an hour meets the turn within its first seconds. Real time elsewhere is untouched.
//
//   pnpm test:clock                                  # 00:00:30, 11:59:50, 12:00:10, 23:59:50 UTC
//   pnpm test:clock --at 23:59:50 apps/producer      # one instant, the files under a path
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const DAY_MS = 86_400_000;
// release-check publishes to a registry and reads no clock of ours; faults is `pnpm test:faults`.
const SKIPPED = new Set(['packages/release-check', 'packages/faults']);

const args = process.argv.slice(2);
const instants = [];
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--at') instants.push(args[++i]);
  else paths.push(args[i].replace(/\/$/, ''));
}
if (instants.length === 0) instants.push('00:00:30', '11:59:50', '12:00:10', '23:59:50');
const instantMs = instants.map((at) => {
  const match = /^(\d\d):(\d\d):(\d\d)$/.exec(at ?? '');
  if (!match) {
    console.error(`--at ${at}: expected HH:MM:SS (UTC)`);
    process.exit(1);
  }
  const [h, m, s] = match.slice(1).map(Number);
  return ((h * 60 + m) * 60 + s) * 1000;
});

const shim = join(mkdtempSync(join(tmpdir(), 'pipe-clock-')), 'shift-clock.so');
execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, join(root, 'scripts/clock/shift-clock.c')], {
  stdio: 'inherit',
});
execFileSync('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});

/** Test files of each workspace package, as [package dir, file relative to it]. */
function testFiles() {
  const files = [];
  for (const floor of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, floor)).sort()) {
      const dir = `${floor}/${name}`;
      if (SKIPPED.has(dir) || !existsSync(join(root, dir, 'vitest.config.ts'))) continue;
      for (const sub of ['src', 'test']) {
        if (!existsSync(join(root, dir, sub))) continue;
        for (const file of readdirSync(join(root, dir, sub), { recursive: true }).sort()) {
          if (!String(file).endsWith('.test.ts')) continue;
          const path = `${sub}/${file}`;
          const full = `${dir}/${path}`;
          if (paths.length === 0 || paths.some((p) => full === p || full.startsWith(`${p}/`)))
            files.push([dir, path]);
        }
      }
    }
  }
  return files;
}

/** Milliseconds to add to now so that the clock reads `ms` past a UTC midnight (today's). */
function offsetTo(ms) {
  const now = Date.now();
  return Math.floor(now / DAY_MS) * DAY_MS + ms - now;
}

const files = testFiles();
const failures = [];
const started = Date.now();
for (const [i, at] of instants.entries()) {
  for (const [dir, file] of files) {
    const env = {
      ...process.env,
      LD_PRELOAD: shim,
      PIPE_CLOCK_OFFSET_MS: String(offsetTo(instantMs[i])),
    };
    const run = spawnSync('pnpm', ['exec', 'vitest', 'run', file], {
      cwd: join(root, dir),
      env,
      encoding: 'utf8',
    });
    const ok = run.status === 0;
    console.log(`${ok ? 'pass' : 'FAIL'}  ${at}  ${dir}/${file}`);
    if (!ok) {
      failures.push(`${at}  ${dir}/${file}`);
      process.stdout.write(run.stdout.split('\n').slice(-60).join('\n') + run.stderr.slice(-4000));
    }
  }
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(
  `\ntest:clock: ${files.length} files x ${instants.length} instants in ${minutes} min; ${failures.length} failed`,
);
for (const f of failures) console.log(`  ${f}`);
process.exit(failures.length ? 1 : 0);
