#!/usr/bin/env node
// `pnpm bench [streams|producer|aggregator|reaper|alerter|shards|sizing|devices|windows ...]`: each benchmark script, which prints its
// figures beside a baseline measured in the same run. Not part of the tests. With no name, it runs all of
// them, collects their figures (each script writes them as JSON to the file in BENCH_JSON), prints the
// side-by-side tables and writes docs/BENCHMARKS.md; one name runs that script alone and writes nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, loadNow } from './bench/machine.mjs';
import { renderFigures, renderReport } from './bench/report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benches = {
  streams: 'packages/streams/bench/stream-add.mjs',
  producer: 'apps/producer/bench/producer.mjs',
  aggregator: 'apps/aggregator/bench/aggregator.mjs',
  reaper: 'apps/reaper/bench/reaper.mjs',
  alerter: 'apps/alerter/bench/alerter.mjs',
  shards: 'apps/aggregator/bench/shards.mjs',
  sizing: 'apps/aggregator/bench/sizing.mjs',
  devices: 'apps/producer/bench/devices.mjs',
  windows: 'apps/aggregator/bench/windows.mjs',
};
const reportPath = join(root, 'docs', 'BENCHMARKS.md');

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!benches[name]) {
    console.error(`unknown benchmark ${name}; choose from ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}

const startedAt = new Date();
const load = { start: loadNow() };
const machine = describeMachine(root); // the commit as it was when the figures were measured
const scratch = mkdtempSync(join(tmpdir(), 'pipe-bench-'));
const figures = {};
let failed;
try {
  for (const name of wanted.length ? wanted : Object.keys(benches)) {
    console.log(`\n=== ${name} ===`);
    const json = join(scratch, `${name}.json`);
    const script = join(root, benches[name]);
    const run = spawnSync(process.execPath, [script], {
      cwd: dirname(dirname(script)),
      stdio: 'inherit',
      env: { ...process.env, BENCH_JSON: json },
    });
    if (run.status !== 0) {
      failed = { name, status: run.status || 1, how: run.status ?? run.signal };
      break;
    }
    figures[name] = JSON.parse(readFileSync(json, 'utf8'));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failed) {
  console.error(`\n${failed.name} failed (${failed.how})${wanted.length ? '' : '; no report written'}`);
  process.exit(failed.status);
}

if (wanted.length === 0) {
  load.end = loadNow();
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  console.log(`\n=== all figures of this run (${Math.round(seconds)} s) ===\n\n${renderFigures(figures)}\n`);
  mkdirSync(dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, renderReport({ figures, machine, startedAt, seconds, load }));
  console.log(`wrote ${reportPath}`);
}
