import { runProducer } from '@pipe/fixtures';
import { RedisServer } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ndjson } from './inputs.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
  const admin = new Redis(server.url);
  await admin.config('SET', 'requirepass', 'right-password');
  admin.disconnect();
});
afterAll(() => server?.stop());

it('names refused credentials at once (exit 3), never the password, instead of waiting out --give-up-after', async () => {
  const url = `redis://pipe-producer:wrong-pw-7c1@127.0.0.1:${server.port}`;
  const started = Date.now();
  const run = await runProducer(['ingest', '--redis-url', url, '--give-up-after', '20s'], {
    input: ndjson([{ device: 'd', ts: Date.now() - 1000, temp_f: 1 }]),
  });
  expect(run.code).toBe(3);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(run.stderr).toMatch(/^gave up: Redis refused the connection: authentication failed \(WRONGPASS/m);
  expect(run.stdout + run.stderr).not.toContain('wrong-pw-7c1');
});
