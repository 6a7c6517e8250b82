import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMain, type AppName } from '@pipe/fixtures';
import { randomPrefix, RedisServer, startNode } from '@pipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const servers: Record<string, RedisServer> = {};
let input: string;

beforeAll(async () => {
  for (const policy of ['volatile-lru', 'allkeys-lru', 'noeviction'])
    servers[policy] = await RedisServer.start({
      args: ['--maxmemory', '30mb', '--maxmemory-policy', policy],
    });
  input = join(await mkdtemp(join(tmpdir(), 'pipe-eviction-')), 'in.ndjson');
  await writeFile(input, `${JSON.stringify({ device: 'd', ts: Date.now() - 60_000, temp_f: 1 })}\n`);
});
afterAll(async () => {
  for (const server of Object.values(servers)) await server.stop();
});

/** Every service, in the command an operator starts first. */
const COMMANDS: [AppName, string[]][] = [
  ['producer', ['ingest', '--file', '<input>']],
  ['aggregator', ['run', '--drain']],
  ['reaper', ['status']],
  ['averages-viewer', ['tail']],
  ['averages-viewer', ['serve', '--port', '0']],
  ['reaper', ['run']],
];

interface RunOptions {
  extra?: string[];
  /** Stop a command that runs on (SIGTERM) once its output says this; else after `runForMs`. */
  stopOnOutput?: string;
  runForMs?: number;
}

/**
 * Runs a command against a server; its exit code (null: still running when stopped) and output. A
 * refused command exits on its own, however long its start takes under load: only a command that runs
 * on is stopped, once its output says what the test waits for, and after 30 s in any case.
 */
async function run(app: AppName, args: string[], policy: string, options: RunOptions = {}) {
  const { extra = [], stopOnOutput, runForMs = 30_000 } = options;
  const url = servers[policy]!.url;
  const argv = [
    ...args.map((a) => (a === '<input>' ? input : a)),
    '--redis-url',
    url,
    '--prefix',
    randomPrefix('ev'),
    ...extra,
  ];
  const child = startNode(appMain(app), argv, { env: { LOG_LEVEL: 'warn' } });
  const stopAt = Date.now() + Math.min(runForMs, 30_000);
  const watch = setInterval(() => {
    const said = stopOnOutput !== undefined && child.output().includes(stopOnOutput);
    if (said || Date.now() >= stopAt) child.kill('SIGTERM');
  }, 100);
  const exit = await child.exited;
  clearInterval(watch);
  return { code: exit.code, stderr: child.stderr(), output: child.output() };
}

describe('a server that may evict pipeline keys', () => {
  for (const policy of ['volatile-lru', 'allkeys-lru']) {
    it.each(COMMANDS)(`is refused under ${policy}: %s %j`, async (app, args) => {
      const { code, stderr } = await run(app, args, policy);
      expect(code, stderr).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`maxmemory-policy is ${policy}.*noeviction.*--allow-eviction`));
    });
  }

  it.each(COMMANDS)('is used with --allow-eviction, with a warning: %s %j', async (app, args) => {
    const { code, output } = await run(app, args, 'volatile-lru', {
      extra: ['--allow-eviction'],
      stopOnOutput: 'Redis may evict pipeline keys',
    });
    expect([0, 130, null].includes(code) || (app === 'reaper' && code === 0), output).toBe(true);
    expect(output).toContain('Redis may evict pipeline keys');
  });

  it.each(COMMANDS)('is not in question under noeviction: %s %j', async (app, args) => {
    const { code, output } = await run(app, args, 'noeviction', { runForMs: 4000 });
    // No refusal, override warning or eviction warning (reaper status names the policy, noeviction).
    expect(output).not.toMatch(/maxmemory-policy is|may evict|evicted keys/);
    expect(code === 0 || code === null || code === 130, output).toBe(true);
  });
});
