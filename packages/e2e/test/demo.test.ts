import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep, startNode, waitFor } from '@pipe/testkit';
import { expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url));

/** Every descendant pid of a process (ps walks the tree one level at a time). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const commandOf = (pid: number) => {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return String(pid);
  }
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('the demo (npm start) shows hourly averages on its dashboard within seconds, and Ctrl-C leaves no process behind', async () => {
  // No REDIS_URL: the demo starts its own redis-server, as on a newcomer's machine.
  const env: NodeJS.ProcessEnv = { ...process.env, PIPE_PRETTY_LOGS: '0', LOG_LEVEL: 'warn' };
  delete env.REDIS_URL;
  const demo = startNode(DEMO, [], { env });
  try {
    const url = await waitFor(
      'the dashboard address',
      () => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(demo.stdout())?.[1],
      10_000,
      100,
    ).catch(() => undefined);
    expect(url, demo.output()).toBeDefined();
    const averages = async () => {
      const response = await fetch(`${url}api/averages`).catch(() => undefined);
      const body = (await response?.json().catch(() => undefined)) as { count: number } | undefined;
      return body?.count ?? 0;
    };
    // On a timeout the assertions below show the demo's output.
    const count = await waitFor(
      'a first average',
      async () => {
        const n = await averages();
        return n > 0 && n;
      },
      45_000,
      500,
    ).catch(() => 0);
    expect(count, demo.output()).toBeGreaterThan(0);
    const page = await (await fetch(url!)).text();
    expect(page).toContain('<html');

    const pids = descendants(demo.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(5); // redis-server and the four services
    demo.kill('SIGINT');
    const { code } = await demo.exited;
    expect(code).toBe(0);
    await sleep(300);
    expect(pids.filter(alive).map(commandOf)).toEqual([]);
  } finally {
    demo.kill('SIGKILL');
  }
}, 90_000);
