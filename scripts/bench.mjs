#!/usr/bin/env node
// `pnpm bench [streams|producer|aggregator|reaper ...]`: each package's benchmark script, which prints
// its figures beside a baseline measured in the same run. Not part of the tests.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = {
  streams: '@pipe/streams',
  producer: '@pipe/producer',
  aggregator: '@pipe/aggregator',
  reaper: '@pipe/reaper',
};
const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(packages)) {
  const pkg = packages[name];
  if (!pkg) {
    console.error(`unknown benchmark ${name}; choose from ${Object.keys(packages).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const run = spawnSync('pnpm', ['--silent', '--filter', pkg, 'run', 'bench'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
