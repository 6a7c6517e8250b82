// What a benchmark report was measured on: hardware, OS, runtimes and the code, read from the machine
// at run time (figures from another machine or another commit are not comparable).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, arch, cpus, loadavg, release, totalmem, type } from 'node:os';

function command(file, args, cwd) {
  try {
    return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function osName() {
  try {
    return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** The 1-minute load average, rounded: other work on the machine shows up in every figure. */
export const loadNow = () => Math.round(loadavg()[0] * 100) / 100;

/** The machine, the tools and the commit, as label → value. */
export function describeMachine(root) {
  const redis = command('redis-server', ['--version']) ?? '';
  const changed = command('git', ['status', '--porcelain'], root)?.split('\n').filter(Boolean).length ?? 0;
  const commit = command('git', ['log', '-1', '--format=%h %s'], root) ?? 'unknown';
  return {
    CPU: cpus()[0]?.model ?? 'unknown',
    'logical CPUs': String(availableParallelism()),
    RAM: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    OS: `${osName() ?? type()}, ${type()} ${release()} ${arch()}`,
    'Node.js': process.version,
    'redis-server': `${/v=(\S+)/.exec(redis)?.[1] ?? 'unknown'} (${/malloc=(\S+)/.exec(redis)?.[1] ?? '?'})`,
    'redis-benchmark': command('redis-benchmark', ['--version']) ?? 'unknown',
    'git commit': changed ? `${commit} (+ ${changed} uncommitted paths in the working tree)` : commit,
  };
}
