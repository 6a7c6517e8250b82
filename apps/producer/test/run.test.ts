import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { freePort, randomPrefix, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runInProcess } from './in-process.js';

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
    const run = await runInProcess('run', {
      redisUrl,
      prefix,
      devices: '4',
      interval: '1s',
      speed: '60',
      duration: '2s',
      seed: '7',
      json: true,
    });
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

  it('serves its counters and batch latency on --metrics-port', async () => {
    const prefix = randomPrefix('producer');
    const port = await freePort();
    // Long enough for the scrapes below on a loaded machine; the run ends by itself after it.
    const producer = runInProcess('run', {
      redisUrl,
      prefix,
      devices: '3',
      interval: '50ms',
      metricsPort: String(port),
      duration: '5s',
      json: true,
    });
    try {
      const text = await waitFor(
        'readings written in /metrics',
        async () => {
          const scraped = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
          return /^pipe_producer_readings_written_total\{[^}]*\} [1-9]/m.test(scraped) && scraped;
        },
        20_000,
        100,
      );
      expect(text).toMatch(/^pipe_producer_readings_written_total\{[^}]*\} [1-9]/m);
      expect(text).toMatch(/^pipe_producer_readings_rejected_total\{[^}]*\} 0$/m);
      expect(text).toMatch(/^pipe_producer_batch_seconds_count\{[^}]*\} [1-9]/m);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      expect((await producer).code).toBe(0);
    }
  });
});
