import { connect as connectTcp } from 'node:net';
import { freePort, randomPrefix, sleep, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { partitionEntries, runProducer, startProducer, summaryOf } from './producer-process.js';

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

describe('run', () => {
  it('simulates every device once per simulated interval, --speed times faster than real time', async () => {
    const prefix = randomPrefix('producer');
    const started = Date.now();
    const run = await runProducer([
      'run',
      '--redis-url',
      redisUrl,
      '--prefix',
      prefix,
      '--devices',
      '4',
      '--interval',
      '1s',
      '--speed',
      '60',
      '--duration',
      '2s',
      '--seed',
      '7',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const entries = await partitionEntries(redis, prefix);
    expect(summaryOf(run).readings).toBe(entries.length);
    const byDevice = new Map<string, number[]>();
    for (const e of entries)
      byDevice.set(e.fields.device!, [...(byDevice.get(e.fields.device!) ?? []), Number(e.fields.ts)]);
    expect([...byDevice.keys()].sort()).toEqual(['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004']);
    for (const times of byDevice.values()) {
      times.sort((a, b) => a - b);
      // One reading per simulated second, no step skipped or repeated.
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
      // Two real seconds at 60x cover about two simulated minutes, starting now.
      expect(times[0]!).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
      expect(times.length).toBeGreaterThan(60);
      expect(times.length).toBeLessThanOrEqual(130);
    }
  });

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
    const deadline = Date.now() + 20_000;
    while ((await redis.keys(`${prefix}:*`)).length === 0 && Date.now() < deadline) await sleep(50);
    producer.kill('SIGTERM');
    const run = await producer.exited;
    expect(run.code, run.stderr).toBe(0);
    const written = summaryOf(run).readings as number;
    expect(written).toBeGreaterThan(0);
    expect(await partitionEntries(redis, prefix)).toHaveLength(written);
  });

  it('serves its counters and batch latency on --metrics-port', async () => {
    const prefix = randomPrefix('producer');
    const port = await freePort();
    const producer = startProducer([
      'run',
      '--redis-url',
      redisUrl,
      '--prefix',
      prefix,
      '--devices',
      '3',
      '--interval',
      '50ms',
      '--metrics-port',
      String(port),
      '--json',
    ]);
    try {
      let text = '';
      const deadline = Date.now() + 20_000;
      while (!/^pipe_producer_readings_written_total\{[^}]*\} [1-9]/m.test(text) && Date.now() < deadline) {
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        await sleep(100);
      }
      expect(text).toMatch(/^pipe_producer_readings_written_total\{[^}]*\} [1-9]/m);
      expect(text).toMatch(/^pipe_producer_readings_rejected_total\{[^}]*\} 0$/m);
      expect(text).toMatch(/^pipe_producer_batch_seconds_count\{[^}]*\} [1-9]/m);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      producer.kill('SIGTERM');
      expect((await producer.exited).code).toBe(0);
    }
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
});
