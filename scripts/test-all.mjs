#!/usr/bin/env node
// `npm run test:all`, what CI runs: `npm test` (which builds), then three lanes at once, because each
// mostly waits on the processes, servers and image builds it starts while the cores are half idle:
//   faults  the fault suite (pnpm test:faults, three files at a time),
//   system  the end-to-end, browser and release tests (pnpm test:system),
//   images  the image check (pnpm images:check), once the system tests are done (both are busy; the
//           images share one build through the layer cache, so this lane is the shortest).
// The lanes reuse npm test's build rather than each running turbo's build again: a cache hit restores
// dist/ files that another lane's processes are running. Each lane's output is printed whole when it
// ends (interleaved it would be unreadable), with its time; the exit status is 1 if any lane failed.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const logs = join(root, 'test-artifacts', 'test-all');
mkdirSync(logs, { recursive: true });
const started = Date.now();
const seconds = (since) => `${Math.round((Date.now() - since) / 1000)}s`;
const say = (line) => console.log(`[test:all +${seconds(started)}] ${line}`);

/** Runs one step with its output in test-artifacts/test-all/<name>.log; resolves to its exit status. */
function step(name, command, args, { live = false } = {}) {
  const since = Date.now();
  const logFile = join(logs, `${name}.log`);
  const out = live ? 'inherit' : openSync(logFile, 'w');
  say(`${name}: ${[command, ...args].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', out, out] });
    child.on('error', (error) => {
      say(`${name}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (!live) process.stdout.write(`\n----- ${name} -----\n${readFileSync(logFile, 'utf8')}`);
      const status = code ?? 1;
      const outcome = status === 0 ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`;
      say(`${name}: ${outcome} in ${seconds(since)}`);
      resolve(status);
    });
  });
}

// npm test first, on its own: it builds, and its own tests keep both cores busy.
if ((await step('npm test', 'npm', ['test'], { live: true })) !== 0) process.exit(1);

const systemTests = ['test:system', '--concurrency=3', '--continue', '--output-logs=new-only'];
const lanes = await Promise.all([
  step('faults', 'pnpm', ['--filter', '@pipe/faults', 'test:faults']),
  step('system', 'pnpm', ['exec', 'turbo', 'run', ...systemTests]).then(async (system) => [
    system,
    await step('images', 'bash', ['scripts/images/check.sh']),
  ]),
]);
const failed = lanes.flat().filter((status) => status !== 0).length;
say(failed === 0 ? 'every lane passed' : `${failed} lane(s) failed`);
process.exit(failed === 0 ? 0 : 1);
