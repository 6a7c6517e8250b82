#!/usr/bin/env node
// The last lines of `npm test`: line and branch coverage of each package's src/, as its tests ran
// it in-process (v8), beside the threshold its vitest config enforces. It reads the
// coverage/coverage-summary.json each package's `vitest run --coverage` wrote. `--clear` (run
// before the tests) removes the old ones, so a package whose tests did not finish shows "not run",
// never an old figure.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const clear = process.argv.includes('--clear');

const packageDirs = ['apps', 'packages'].flatMap((floor) =>
  readdirSync(join(root, floor)).map((name) => join(floor, name)),
);

const rows = [];
for (const dir of packageDirs) {
  const manifest = join(root, dir, 'package.json');
  if (!existsSync(manifest)) continue;
  const { name, scripts = {} } = JSON.parse(readFileSync(manifest, 'utf8'));
  if (!/--coverage/.test(scripts.test ?? '')) continue;
  const summaryFile = join(root, dir, 'coverage', 'coverage-summary.json');
  if (clear) {
    rmSync(summaryFile, { force: true });
    continue;
  }
  const config = readFileSync(join(root, dir, 'vitest.config.ts'), 'utf8');
  const threshold = /minLineCoverage:\s*(\d+)/.exec(config)?.[1];
  if (!existsSync(summaryFile)) {
    rows.push([name, 'not run', '', threshold ? `${threshold} %` : '-']);
    continue;
  }
  const { total } = JSON.parse(readFileSync(summaryFile, 'utf8'));
  rows.push([
    name,
    `${total.lines.pct.toFixed(1)} %`,
    `${total.branches.pct.toFixed(1)} %`,
    threshold ? `${threshold} %` : '-',
  ]);
}

if (clear) process.exit(0);

const head = ['package (src/, in-process)', 'lines', 'branches', 'min lines'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const row of rows) console.log(line(row));
