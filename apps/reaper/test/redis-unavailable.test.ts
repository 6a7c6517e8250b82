import { appMain } from '@pipe/fixtures';
import { connect } from '@pipe/streams';
import { closedPort, generateTlsFiles, giveUpProblems, RedisServer, runTimed } from '@pipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const reaper = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runTimed(appMain('reaper'), args, { env: { LOG_LEVEL: 'warn', ...env }, timeoutMs: 20_000 });

describe('pipe-reaper once and status without Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
    const admin = connect({ url: server.url });
    await admin.config('SET', 'requirepass', 'the-right-one');
    admin.disconnect();
  });
  afterAll(() => server.stop());

  it('status: exit 3 after --give-up-after when nothing listens, one line naming the cause', async () => {
    const port = await closedPort();
    const exit = await reaper([
      'status',
      '--redis-url',
      `redis://127.0.0.1:${port}`,
      '--give-up-after',
      '1s',
    ]);
    expect(
      giveUpProblems(exit, {
        line: new RegExp(
          `^pipe-reaper: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/?: connection refused \\(ECONNREFUSED\\); gave up after 1s$`,
        ),
        withinMs: 1_000 + 5_000,
      }),
    ).toEqual([]);
  });

  it('once: the same, with REDIS_URL and GIVE_UP_AFTER from the environment', async () => {
    const port = await closedPort();
    const exit = await reaper(['once'], { REDIS_URL: `redis://127.0.0.1:${port}`, GIVE_UP_AFTER: '1500ms' });
    expect(
      giveUpProblems(exit, {
        line: /^pipe-reaper: cannot reach Redis at .*: connection refused \(ECONNREFUSED\); gave up after 1\.5s$/,
        withinMs: 1_500 + 5_000,
      }),
    ).toEqual([]);
  });

  it.each([
    { command: 'once', user: 'nobody:wrong-secret-7@', reply: 'WRONGPASS' },
    { command: 'status', user: ':wrong-secret-7@', reply: 'WRONGPASS' },
    { command: 'status', user: '', reply: 'NOAUTH' },
  ])('$command: exit 3 at once when Redis answers $reply, without printing the password', async (c) => {
    const exit = await reaper([c.command, '--redis-url', `redis://${c.user}127.0.0.1:${server.port}`]);
    expect(
      giveUpProblems(exit, {
        line: new RegExp(
          `^pipe-reaper: cannot use Redis at redis://.*: authentication failed \\(${c.reply} .*\\)$`,
        ),
        withinMs: 5_000,
        secret: 'wrong-secret-7',
      }),
    ).toEqual([]);
  });

  it('status: exit 3 when no cluster seed answers', async () => {
    const seeds = `127.0.0.1:${await closedPort()},127.0.0.1:${await closedPort()}`;
    const exit = await reaper(['status', '--cluster-nodes', seeds, '--give-up-after', '1s']);
    expect(
      giveUpProblems(exit, {
        line: new RegExp(
          `^pipe-reaper: cannot reach Redis Cluster at ${seeds}: no seed answered .*; gave up after 1s$`,
        ),
        withinMs: 1_000 + 5_000,
      }),
    ).toEqual([]);
  });

  it('status: exit 3 at once when the TLS handshake fails (server certificate not trusted)', async () => {
    const tls = await generateTlsFiles();
    const tlsServer = await RedisServer.start({ tls });
    try {
      const exit = await reaper(['status', '--redis-url', tlsServer.url, '--give-up-after', '30s']);
      expect(
        giveUpProblems(exit, {
          line: /^pipe-reaper: cannot use Redis at rediss:\/\/127\.0\.0\.1:\d+\/?: TLS handshake failed: .+ \([A-Z_]+\)$/,
          withinMs: 5_000,
        }),
      ).toEqual([]);
    } finally {
      await tlsServer.stop();
    }
  });
});
