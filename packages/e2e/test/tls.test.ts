import { readFileSync } from 'node:fs';
import { backfillLastHours, runApp } from '@pipe/fixtures';
import { connect, PipelineKeys, Stream } from '@pipe/streams';
import { generateTlsFiles, RedisServer, type TlsFiles } from '@pipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let files: TlsFiles;
let server: RedisServer;
beforeAll(async () => {
  files = await generateTlsFiles();
  server = await RedisServer.start({ tls: files });
});
afterAll(() => server?.stop());

it('runs producer, aggregator, reaper and viewer over rediss:// with a CA and a client certificate', async () => {
  expect(server.url).toMatch(/^rediss:\/\//);
  const env = {
    REDIS_URL: server.url,
    REDIS_TLS_CA: files.ca,
    REDIS_TLS_CERT: files.clientCert,
    REDIS_TLS_KEY: files.clientKey,
  };
  await backfillLastHours(3, env);
  const drained = await runApp('aggregator', ['run', '--drain'], env);
  expect(drained.code, drained.stderr).toBe(0);
  const swept = await runApp('reaper', ['once'], env);
  expect(swept.code, swept.stderr).toBe(0);
  const tail = await runApp('averages-viewer', ['tail', '--last', '10', '--json'], env);
  expect(tail.code, tail.stderr).toBe(0);
  const shown = tail.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(shown).toHaveLength(3);
  expect(shown.every((a) => a.num_observations === 120)).toBe(true);

  // The same data read directly over TLS; a client without a certificate is refused.
  const keys = new PipelineKeys();
  const redis = connect({
    url: server.url,
    tls: {
      ca: readFileSync(files.ca),
      cert: readFileSync(files.clientCert),
      key: readFileSync(files.clientKey),
    },
  });
  expect(await new Stream(redis, keys.averages).length()).toBe(3);
  redis.disconnect();
  const anonymous = connect({
    url: server.url,
    tls: { ca: readFileSync(files.ca) },
    redis: { retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true },
  });
  anonymous.on('error', () => {});
  await expect(anonymous.ping()).rejects.toThrow();
  anonymous.disconnect();
});
