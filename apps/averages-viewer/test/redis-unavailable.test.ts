import { appMain } from '@pipe/fixtures';
import { connect } from '@pipe/streams';
import { closedPort, giveUpProblems, RedisServer, runTimed } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';

const viewer = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runTimed(appMain('averages-viewer'), args, { env: { LOG_LEVEL: 'warn', ...env }, timeoutMs: 20_000 });

describe('pipe-viewer tail without Redis', () => {
  it('exits 3 after --give-up-after when nothing listens, with one line naming the cause', async () => {
    const port = await closedPort();
    const exit = await viewer(['tail', '--redis-url', `redis://127.0.0.1:${port}`], { GIVE_UP_AFTER: '1s' });
    expect(
      giveUpProblems(exit, {
        line: new RegExp(
          `^pipe-viewer: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/?: connection refused \\(ECONNREFUSED\\); gave up after 1s$`,
        ),
        withinMs: 1_000 + 5_000,
      }),
    ).toEqual([]);
  });

  it('exits 3 at once when Redis refuses the password, without printing it', async () => {
    const server = await RedisServer.start();
    try {
      const admin = connect({ url: server.url });
      await admin.config('SET', 'requirepass', 'the-right-one');
      admin.disconnect();
      const exit = await viewer(['tail', '--json', '--give-up-after', '30s'], {
        REDIS_URL: `redis://:wrong-secret-9@127.0.0.1:${server.port}`,
      });
      expect(
        giveUpProblems(exit, {
          line: /^pipe-viewer: cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: authentication failed \(WRONGPASS .*\)$/,
          withinMs: 5_000,
          secret: 'wrong-secret-9',
        }),
      ).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
