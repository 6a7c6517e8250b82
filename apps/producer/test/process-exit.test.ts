import { connect as connectTcp } from 'node:net';
import { partitionEntries, startProducer, summaryOf } from '@pipe/fixtures';
import { freePort, randomPrefix, sleep, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// The process is the subject here: how `pipe-producer` ends (a signal, a scraper holding a connection).
// What the commands write is tested in-process (run.test.ts, ingest.test.ts, ...).

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

describe('the pipe-producer process', () => {
  it('stops on SIGTERM after writing what it produced, and exits 0', async () => {
    const prefix = randomPrefix('producer');
    const producer = startProducer([
      'run',
      '--redis-url',
      redisUrl,
      '--prefix',
      prefix,
      '--devices',
      '2',
      '--interval',
      '100ms',
      '--json',
    ]);
    const firstKey = async () => (await redis.keys(`${prefix}:*`)).length > 0;
    await waitFor('a first key written', firstKey, 20_000).finally(() => producer.kill('SIGTERM'));
    const run = await producer.exited;
    expect(run.code, run.stderr).toBe(0);
    const written = summaryOf(run).readings as number;
    expect(written).toBeGreaterThan(0);
    expect(await partitionEntries(redis, prefix)).toHaveLength(written);
  });

  it('exits when its work is done although a scraper holds a metrics connection open', async () => {
    // A request in progress (headers not finished) keeps its connection busy: server.close() alone waits
    // for it for ever. A scraper polling every 100 ms lands there now and then; an ingest then hung after
    // printing its summary (seen in the failover fault case).
    const port = await freePort();
    const producer = startProducer(
      [
        'ingest',
        '--redis-url',
        redisUrl,
        '--prefix',
        randomPrefix('producer'),
        '--metrics-port',
        String(port),
        '--json',
      ],
      {
        input: (async function* () {
          yield `${JSON.stringify({ device: 'd1', ts: Date.now(), temp_f: 70 })}\n`;
          await waitFor('the scraper connected', () => scraperConnected);
        })(),
      },
    );
    let scraperConnected = false;
    const scraper = await waitFor(
      'the metrics port',
      () =>
        new Promise<ReturnType<typeof connectTcp> | undefined>((resolve) => {
          const socket = connectTcp(port, '127.0.0.1', () => resolve(socket));
          socket.on('error', () => resolve(undefined));
        }),
    );
    scraper.on('error', () => {});
    scraper.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    scraperConnected = true;
    try {
      const run = await Promise.race([
        producer.exited,
        sleep(10_000).then(() => ({ code: 'still running after 10 s' })),
      ]);
      expect(run.code).toBe(0);
    } finally {
      scraper.destroy();
      producer.kill('SIGKILL');
    }
  });

  it('http: refuses to start without a token, serves until SIGTERM, then exits 0 with a client still connected', async () => {
    const prefix = randomPrefix('producer');
    const port = await freePort();
    const args = ['http', '--redis-url', redisUrl, '--prefix', prefix, '--port', String(port)];
    const refused = await startProducer(args).exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/token.*--no-auth/);
    const server = startProducer(args, { env: { INGEST_TOKEN: 'secret' } });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        'the endpoint',
        () =>
          fetch(`${url}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
      );
      const res = await fetch(`${url}/v1/readings`, {
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: JSON.stringify({ device: 'd1', ts: Date.now(), temp_f: 70 }),
      });
      expect(await res.json()).toMatchObject({ written: 1 });
      // A keep-alive connection held open must not keep the process alive.
      const idle = connectTcp(port, '127.0.0.1');
      idle.on('error', () => {});
      await new Promise((resolve) => idle.once('connect', resolve));
      server.kill('SIGTERM');
      const run = await Promise.race([
        server.exited,
        sleep(10_000).then(() => ({ code: 'still running after 10 s', stderr: '' })),
      ]);
      idle.destroy();
      expect(run.code, run.stderr).toBe(0);
      expect(await partitionEntries(redis, prefix)).toHaveLength(1);
    } finally {
      server.kill('SIGKILL');
    }
  });
});
