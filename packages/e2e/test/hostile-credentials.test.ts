import { appMain, type AppName } from '@pipe/fixtures';
import { RedisServer, sleep, startNode, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const WRONG = 'wrong-pw-3f9a';
const REFUSED = /WRONGPASS|NOAUTH|auth/i;
let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
  const admin = new Redis(server.url);
  await admin.config('SET', 'requirepass', 'right-pw');
  admin.disconnect();
});
afterAll(() => server?.stop());

/**
 * Starts a long-running command with a wrong password, lets it retry a while after its first refusal
 * (however long its start takes under load), stops it, returns its output.
 */
async function outputOf(app: AppName, args: string[]) {
  const url = `redis://pipe-user:${WRONG}@127.0.0.1:${server.port}`;
  const run = startNode(appMain(app), [...args, '--redis-url', url], { env: { LOG_LEVEL: 'debug' } });
  await waitFor(
    'a refusal in the output',
    () => REFUSED.test(run.output()) || run.child.exitCode !== null,
    30_000,
  );
  await sleep(1500);
  run.kill('SIGTERM');
  await sleep(1000);
  run.kill('SIGKILL');
  await run.exited;
  return run.output();
}

describe('a wrong password never reaches the logs', () => {
  it.each([
    ['aggregator', ['run']],
    ['reaper', ['run']],
    ['averages-viewer', ['serve', '--port', '0']],
    ['reaper', ['status']],
  ] as [AppName, string[]][])('%s %j', async (app, args) => {
    const output = await outputOf(app, args);
    expect(output).toMatch(REFUSED);
    expect(output).not.toContain(WRONG);
  });
});
