import { appMain, backfillLastHours, runApp } from '@pipe/fixtures';
import { aclSetUserArgs, pipelineAcl, type ServiceName } from '@pipe/service';
import { HOUR_WINDOW, PipelineKeys } from '@pipe/streams';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, RedisServer, runNode, startNode, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: RedisServer;
const FUNCTIONS_SCRIPT = fileURLToPath(new URL('../../../scripts/functions.mjs', import.meta.url));
const ACL_SCRIPT = fileURLToPath(new URL('../../../scripts/acl.mjs', import.meta.url));
const password = (service: string) => `secret-${service}-pw`;
const urlFor = (service: ServiceName) =>
  `redis://${pipelineAcl()[service].user}:${password(service)}@127.0.0.1:${server.port}`;
const clientFor = (service: ServiceName) => new Redis(urlFor(service), { maxRetriesPerRequest: 1 });

beforeAll(async () => {
  server = await RedisServer.start();
  const setup = new Redis(server.url);
  await setup.call('ACL', 'SETUSER', 'admin', 'on', '>admin-pw', '+@all', '~*', '&*');
  for (const [service, acl] of Object.entries(pipelineAcl())) {
    await setup.call('ACL', 'SETUSER', ...aclSetUserArgs(acl, password(service)));
  }
  // From here on nobody gets in without a user: exactly the production setup `pnpm acl` describes.
  await setup.call('ACL', 'SETUSER', 'default', 'off');
  setup.disconnect();
  // The deploy's admin step: pipe's scripts as functions, which no service user may load itself.
  const loaded = await runNode(FUNCTIONS_SCRIPT, [
    '--redis-url',
    `redis://admin:admin-pw@127.0.0.1:${server.port}`,
  ]);
  expect(loaded.code, loaded.stderr).toBe(0);
});
afterAll(() => server?.stop());

describe('least-privilege users', () => {
  it('run the whole pipeline, each service as its own user', async () => {
    const to = await backfillLastHours(4, { REDIS_URL: urlFor('producer') });

    // A consumer that dies holding entries, so the reaper has real work under its ACL.
    const keys = new PipelineKeys();
    const admin = new Redis(`redis://admin:admin-pw@127.0.0.1:${server.port}`);
    const partition = keys.partitionKeyFor(to - 3_600_000);
    await admin.xgroup('CREATE', partition, 'aggregator', '0');
    await admin.xreadgroup('GROUP', 'aggregator', 'crashed', 'COUNT', 5, 'STREAMS', partition, '>');
    await admin.xadd(partition, '*', 'device', 'bad', 'temp_f', 'not-a-number');

    const drained = await runApp(
      'aggregator',
      ['run', '--drain', '--consumer', 'crashed', '--idle-close', '1s'],
      // --per-device: the user also writes every device's streams and the devices index.
      { REDIS_URL: urlFor('aggregator'), AGGREGATOR_PER_DEVICE: '1' },
    );
    expect(drained.code, drained.stderr).toBe(0);
    expect(await admin.xlen(keys.averages)).toBe(4);
    const devices = await admin.zrange(keys.devicesIndex, 0, -1);
    expect(devices.length).toBeGreaterThan(0);
    expect(await admin.xlen(keys.deviceWindows(devices[0]!, HOUR_WINDOW))).toBeGreaterThan(0);
    expect(await admin.hlen(keys.devicesLatest)).toBe(devices.length);
    expect(await admin.xlen(keys.deadLetters)).toBe(1);

    const swept = await runApp('reaper', ['once', '--min-idle', '0', '--consumer-ttl', '0'], {
      REDIS_URL: urlFor('reaper'),
    });
    expect(swept.code, swept.stderr).toBe(0);
    const status = await runApp('reaper', ['status', '--json'], { REDIS_URL: urlFor('reaper') });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toBeTruthy();
    const dlq = await runApp('reaper', ['dlq', 'list', '--json'], { REDIS_URL: urlFor('reaper') });
    expect(dlq.code, dlq.stderr).toBe(0);

    // The alerter drains the same partitions through its own group, as its own user: its state, positions
    // and transitions (the backfill's 4 hours of humidity cross the example's `dry` rule, and every device
    // falls silent at the end of a drain's stream time).
    const alerted = await runApp(
      'alerter',
      [
        'run',
        '--drain',
        '--rules',
        fileURLToPath(new URL('../../../apps/alerter/rules.example.yaml', import.meta.url)),
      ],
      { REDIS_URL: urlFor('alerter') },
    );
    expect(alerted.code, alerted.stderr).toBe(0);
    expect(await admin.hlen(keys.alertPositions)).toBeGreaterThan(0);
    const alertStatus = await runApp('alerter', ['status', '--json'], { REDIS_URL: urlFor('alerter') });
    expect(alertStatus.code, alertStatus.stderr).toBe(0);

    const tail = await runApp('averages-viewer', ['tail', '--name', 'acl-test', '--json'], {
      REDIS_URL: urlFor('viewer'),
    });
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split('\n')).toHaveLength(4);
    expect(await admin.get(keys.viewerPosition('acl-test'))).toBeTruthy();

    // The dashboard as the viewer's user: its status (groups and their consumers) and its live stream.
    const port = await freePort();
    const serve = startNode(appMain('averages-viewer'), ['serve', '--port', String(port)], {
      env: { LOG_LEVEL: 'warn', REDIS_URL: urlFor('viewer') },
    });
    try {
      const answer = await waitFor('the dashboard status', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/status`).catch(() => undefined);
        return res?.status === 200
          ? ((await res.json()) as { redis: { up: boolean }; pipeline: unknown })
          : false;
      });
      expect(answer.redis.up).toBe(true);
      expect(answer.pipeline).toBeTruthy();
      const stream = await fetch(`http://127.0.0.1:${port}/api/stream`);
      expect(stream.status).toBe(200);
      await stream.body?.cancel();
    } finally {
      serve.kill('SIGTERM');
      await serve.exited;
    }
    expect(serve.output()).not.toMatch(/NOPERM/);

    // Every reaper command that writes, as the reaper's user.
    const replay = await runApp('reaper', ['dlq', 'replay', '--all'], { REDIS_URL: urlFor('reaper') });
    expect(replay.code, replay.stderr).toBe(0);
    const purge = await runApp('reaper', ['dlq', 'purge', '--yes'], { REDIS_URL: urlFor('reaper') });
    expect(purge.code, purge.stderr).toBe(0);
    admin.disconnect();
  });

  it.each([
    ['producer', ['DEL', 'temps:20260101']],
    // The aggregator's state of the same partitions, and another service's keys.
    ['producer', ['HSET', '{temps:20260101}:agg', 'sealed', '1']],
    ['producer', ['HSET', 'temps:20260101:s0{ab}:hour:1', 'n', '1']],
    ['producer', ['XADD', '{temps:20260101}:outbox', '*', 'x', '1']],
    ['producer', ['SET', '{temps:averages}:owner', 'x']],
    ['viewer', ['SET', '{temps:averages}:owner', 'x']],
    // No user runs code of its own: no EVAL, no loading functions.
    ...(['producer', 'aggregator', 'reaper', 'alerter', 'viewer'] as const).flatMap((service) => [
      [service, ['EVAL', 'while true do end', '0']],
      [service, ['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('x', function() return 1 end)"]],
    ]),
    ['producer', ['XRANGE', 'temps:averages', '-', '+']],
    ['producer', ['GET', 'temps:viewer:default']],
    ['producer', ['FLUSHALL']],
    ['aggregator', ['FLUSHALL']],
    ['aggregator', ['CONFIG', 'GET', 'maxmemory']],
    ['aggregator', ['GET', 'temps:reaper:lease']],
    ['reaper', ['FLUSHALL']],
    ['alerter', ['FLUSHALL']],
    ['alerter', ['XADD', 'temps:averages', '*', 'x', '1']],
    ['alerter', ['DEL', 'temps:20260101']],
    ['alerter', ['XADD', 'temps:20260101', '*', 'x', '1']],
    ['alerter', ['GET', 'temps:reaper:lease']],
    ['reaper', ['XADD', 'temps:averages', '*', 'x', '1']],
    ['viewer', ['XADD', 'temps:averages', '*', 'x', '1']],
    ['viewer', ['DEL', 'temps:averages']],
    ['viewer', ['CONFIG', 'SET', 'appendonly', 'no']],
    // A partition's readings are the producer's to add: nobody else may trim, delete or expire them.
    ...(['aggregator', 'viewer'] as const).flatMap((service) => [
      [service, ['XADD', 'temps:20260101', 'MAXLEN', '0', '*', 'x', '1']],
      [service, ['XADD', 'temps:20260101:s0{ab}', 'MAXLEN', '0', '*', 'x', '1']],
      [service, ['XDEL', 'temps:20260101', '1-0']],
      [service, ['DEL', 'temps:20260101']],
      [service, ['PEXPIRE', 'temps:20260101', '1']],
    ]),
    ['aggregator', ['XTRIM', 'temps:20260101', 'MAXLEN', '0']],
    // SET overwrites a key of any type: a partition would be gone (and out of discovery, which scans streams).
    ...(['aggregator', 'reaper', 'viewer'] as const).map((service) => [
      service,
      ['SET', 'temps:20260101', 'x'],
    ]),
    // The aggregator's state and the producer's ledgers beside a partition are not the reaper's.
    ['reaper', ['HSET', '{temps:20260101}:agg', 'sealed', '-1']],
    ['reaper', ['DEL', '{temps:20260101}:agg']],
    ['reaper', ['DEL', '{temps:20260101}:batches']],
    ['reaper', ['SET', '{temps:averages}:owner', 'x']],
    ['reaper', ['XTRIM', 'temps:20260101', 'MAXLEN', '0']],
    ['reaper', ['DEL', 'temps:20260101']],
    ['reaper', ['PEXPIRE', 'temps:20260101', '1']],
  ] as [ServiceName, string[]][])('refuses %s: %j', async (service, [command, ...args]) => {
    const client = clientFor(service);
    try {
      await expect(client.call(command!, ...args)).rejects.toThrow(/NOPERM/);
    } finally {
      client.disconnect();
    }
  });

  it('reports what the producer (and the reaper, which replays dead letters) could still do', async () => {
    // Redis ACLs cannot refuse an argument: the producer's XADD (which its own function needs) takes
    // MAXLEN 0, and its PEXPIREAT an early time. The reaper's sweep and status report both.
    const admin = new Redis(`redis://admin:admin-pw@127.0.0.1:${server.port}`);
    const trimmed = 'temps:20260102';
    const expiring = 'temps:20260103';
    for (const key of [trimmed, expiring])
      for (let i = 0; i < 5; i++) await admin.xadd(key, '*', 'device', 'd', 'ts', '1', 'temp_f', '70');
    await admin.pexpire(trimmed, 86_400_000);
    const producer = clientFor('producer');
    await producer.call('XADD', trimmed, 'MAXLEN', '0', '*', 'x', '1');
    await producer.call('PEXPIREAT', expiring, String(Date.now() + 600_000));
    producer.disconnect();

    const swept = await runApp('reaper', ['once'], { REDIS_URL: urlFor('reaper'), LOG_LEVEL: 'info' });
    expect(swept.code, swept.stderr).toBe(0);
    const lines = swept.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            msg: string;
            level: number;
            stream?: string;
            removed?: number;
            uncounted?: number;
          },
      );
    expect(lines.find((l) => l.msg.startsWith('readings were removed from a partition'))).toMatchObject({
      stream: trimmed,
      removed: 6,
      level: 50,
    });
    expect(lines.find((l) => l.msg.startsWith('a partition expires before'))).toMatchObject({
      stream: expiring,
      uncounted: 5,
    });
    const status = await runApp('reaper', ['status', '--json'], { REDIS_URL: urlFor('reaper') });
    const report = JSON.parse(status.stdout) as { partitions: { key: string; removedEntries: number }[] };
    expect(report.partitions.find((p) => p.key === trimmed)?.removedEntries).toBe(6);
    expect(report.partitions.find((p) => p.key === expiring)?.removedEntries).toBe(0);
    await admin.del(trimmed, expiring);
    admin.disconnect();
  });

  it.each([
    ['producer', ['XADD', 'temps:20260101:s2{x7}', '*', 'device', 'd']],
    ['producer', ['HSET', 'temps:20260101:s2{x7}:batches', 'b', '1']],
    ['producer', ['HSET', '{temps:20260101}:batches', 'b', '1']],
    // The aggregator's and the reaper's own keys of shards and days, which the selectors must reach.
    ['aggregator', ['XADD', 'temps:20260101:s2{x7}:outbox', '*', 'to', 'x']],
    ['aggregator', ['PEXPIRE', 'temps:20260101:s2{x7}:agg', '1000']],
    ['aggregator', ['DEL', '{temps:20260101}:hour:1']],
    ['aggregator', ['XADD', 'temps:averages', 'MAXLEN', '~', '120', '1-0', 'x', '1']],
    ['aggregator', ['XACK', 'temps:20260101:s2{x7}', 'g', '1-0']],
    ['reaper', ['XADD', 'temps:20260101', 'NOMKSTREAM', '*', 'x', '1']],
    ['reaper', ['XDEL', 'temps:20260101:s2{x7}:outbox', '1-0']],
    ['reaper', ['PEXPIRE', '{temps:dlq}:marks', '1000']],
    ['reaper', ['DEL', 'temps:dlq']],
    ['reaper', ['SET', 'temps:reaper:lease', 'me', 'PX', '3000', 'NX']],
    ['reaper', ['HSET', '{temps:20260101}:replayed', 'm', '1-0']],
    ['reaper', ['PEXPIRE', 'temps:20260101:s2{x7}:outbox', '1000']],
    ['aggregator', ['SET', '{temps:averages}:owner', 'aggregator']],
    ['aggregator', ['HEXISTS', '{temps:20260101}:agg', 'group']],
    ['aggregator', ['XINFO', 'CONSUMERS', 'temps:20260101', 'aggregator']],
  ] as [ServiceName, string[]][])('lets %s run %j', async (service, command) => {
    const admin = new Redis(`redis://admin:admin-pw@127.0.0.1:${server.port}`);
    try {
      expect(await admin.call('ACL', 'DRYRUN', pipelineAcl()[service].user, ...command)).toBe('OK');
    } finally {
      admin.disconnect();
    }
  });
});

describe('pnpm acl', () => {
  it('prints lines redis-cli applies as they are, selectors included', async () => {
    const printed = await runNode(ACL_SCRIPT, []);
    expect(printed.code, printed.stderr).toBe(0);
    const lines = printed.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER'));
    expect(lines).toHaveLength(5);
    const scratch = await RedisServer.start();
    try {
      const cli = spawnSync('redis-cli', ['-p', String(scratch.port)], {
        input: lines.join('\n'),
        encoding: 'utf8',
      });
      expect(cli.stdout.trim().split('\n')).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
      const admin = new Redis(scratch.url);
      const dryrun = (...command: string[]) =>
        admin.call('ACL', 'DRYRUN', 'pipe-aggregator', ...command).catch((err: Error) => err.message);
      expect(await dryrun('XADD', '{temps:20260101}:outbox', '*', 'to', 'x')).toBe('OK');
      expect(await dryrun('XADD', 'temps:20260101', 'MAXLEN', '0', '*', 'x', '1')).toMatch(/no permissions/);
      admin.disconnect();
    } finally {
      await scratch.stop();
    }
  });
});
