import { closedPort, freePort, startNode, type TestProcess, waitFor } from '@pipe/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';

const FIXTURE = new URL('./fixtures/run-service.mjs', import.meta.url).pathname;
const started: TestProcess[] = [];
afterEach(() => {
  for (const run of started.splice(0)) run.kill('SIGKILL');
});

function start(mode: string, env: NodeJS.ProcessEnv = {}): TestProcess {
  const run = startNode(FIXTURE, [mode], { env: { REDIS_URL: inject('redisUrl'), ...env } });
  started.push(run);
  return run;
}

const logLines = (run: TestProcess) =>
  run
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('runService', () => {
  it('serves /readyz while the service runs, stops it on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const run = start('until-stopped', { METRICS_PORT: String(port) });
    await waitFor('the service to run', () => logLines(run).some((l) => l.msg === 'test service running'));
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain(
      'service="test-service"',
    );
    run.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
    const messages = logLines(run).map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['connecting', 'stopping', 'stopped']));
    expect(logLines(run).every((l) => l.service === 'test-service')).toBe(true);
  });

  it('exits 0 when the service finishes its work', async () => {
    const exit = await start('finish').exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
  });

  it('exits with the status the service gives a failure it knows, with its own line on stderr', async () => {
    const exit = await start('known-failure').exited;
    expect(exit.code).toBe(4);
    expect(exit.stderr).toBe('pipe-test: a failure the service knows\n');
  });

  it('ends with the stack and exit 1 on any other failure', async () => {
    const exit = await start('unknown-failure').exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/^Error: a failure nobody expected\n\s+at /);
  });

  it('refuses an invalid configuration before connecting, listing every problem (exit 1)', async () => {
    const exit = await start('until-stopped', { REDIS_URL: 'http://nope', STREAM_PREFIX: 'bad prefix' })
      .exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/^invalid configuration:\n {2}- redisUrl: .*\n {2}- prefix: .*\n$/);
    expect(exit.stdout).toBe('');
  });

  it('gives up a run that must end with exit 3 and one line when Redis stays unreachable', async () => {
    const exit = await start('batch', { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` }).exited;
    expect(exit.code).toBe(3);
    expect(exit.stderr).toMatch(
      /^pipe-test: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*; gave up after 300ms\n$/,
    );
  });
});
