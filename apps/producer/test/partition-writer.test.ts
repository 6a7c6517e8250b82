import { partitionEntries } from '@pipe/fixtures';
import { DAY_MS, PipelineKeys, type Reading } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WRITER_REDIS_OPTIONS } from '../src/commands/writer-session.js';
import { GaveUpError, WriteFailedError } from '../src/errors.js';
import { LiveSimulation } from '../src/live-simulation.js';
import { prometheusMetrics } from '../src/metrics.js';
import { PartitionWriter, type PartitionWriterOptions, type WriteItem } from '../src/partition-writer.js';
import { SampleDataSet } from '../src/sample-data-set.js';
import { yesterdayUtc } from './inputs.js';

const redisUrl = inject('redisUrl');
let redis: Redis;
const clients: Redis[] = [];

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => {
  for (const client of clients) client.disconnect();
  redis.disconnect();
});

/** A writer on its own connection, configured as the commands configure theirs. */
function writerFor(
  prefix: string,
  options: Partial<PartitionWriterOptions<string>> = {},
  url = redisUrl,
): { writer: PartitionWriter<string>; rejected: [string, string][] } {
  const client = new Redis(url, WRITER_REDIS_OPTIONS);
  client.on('error', () => {});
  clients.push(client);
  const rejected: [string, string][] = [];
  const writer = new PartitionWriter<string>(client, new PipelineKeys(prefix), {
    retentionMs: 2 * DAY_MS,
    idFromTime: false,
    giveUpAfterMs: 5000,
    onRejected: (source, reason) => rejected.push([source, reason]),
    ...options,
  });
  return { writer, rejected };
}

const item = (reading: Reading, source = reading.device): WriteItem<string> => ({ reading, source });

describe('PartitionWriter', () => {
  it('writes a batch that spans two days to both partitions and counts what it wrote', async () => {
    const prefix = randomPrefix('writer');
    const midnight = yesterdayUtc() + DAY_MS;
    const { writer } = writerFor(prefix);
    await writer.start();
    await writer.write([
      item({ device: 'a', ts: midnight - 1, temp_f: 1 }),
      item({ device: 'b', ts: midnight, temp_f: 2, humidity: 30 }),
      item({ device: 'a', ts: midnight + 1, temp_f: 3 }),
    ]);
    await writer.flush();
    const keys = new PipelineKeys(prefix);
    expect(writer.stats).toMatchObject({ written: 3, alreadyPresent: 0, rejected: 0 });
    expect([...writer.stats.partitions].sort()).toEqual(
      [keys.partitionKeyFor(midnight - 1), keys.partitionKeyFor(midnight)].sort(),
    );
    expect(await redis.xlen(keys.partitionKeyFor(midnight))).toBe(2);
    expect(writer.unconfirmedCount).toBe(0);
    expect(writer.failed).toBeUndefined();
  });

  it('rejects an invalid reading and one outside retention with their reasons, and writes the rest', async () => {
    const prefix = randomPrefix('writer');
    const { writer, rejected } = writerFor(prefix);
    await writer.start();
    const now = Date.now();
    await writer.write([
      item({ device: 'bad name', ts: now, temp_f: 1 }),
      item({ device: 'old', ts: now - 3 * DAY_MS, temp_f: 1 }),
      item({ device: 'good', ts: now, temp_f: 1 }),
    ]);
    await writer.flush();
    expect(writer.stats).toMatchObject({ written: 1, rejected: 2 });
    expect(rejected.map(([source]) => source)).toEqual(['bad name', 'old']);
    expect(rejected[0]![1]).toMatch(/^device: /);
    expect(rejected[1]![1]).toMatch(/older than the retention of 2d/);
  });

  it('with skipWritten, counts the readings an earlier writer wrote as already present and writes the others', async () => {
    const prefix = randomPrefix('writer');
    const ts = Date.now() - 60_000;
    const readings = Array.from({ length: 10 }, (_, i) => item({ device: 'd', ts: ts + i, temp_f: i }));
    const first = writerFor(prefix).writer;
    await first.start();
    await first.write(readings.slice(0, 6));
    await first.flush();
    const second = writerFor(prefix, { skipWritten: true }).writer;
    await second.start();
    // Cut at other boundaries than the first run's: recognised by reading, not by batch.
    await second.write(readings.slice(0, 3));
    await second.write(readings.slice(3));
    await second.flush();
    expect(second.stats).toMatchObject({ written: 4, alreadyPresent: 6, rejected: 0 });
    expect(await partitionEntries(redis, prefix)).toHaveLength(10);
  });

  it('with several shards writes each device to one shard of the day', async () => {
    const prefix = randomPrefix('writer');
    const ts = Date.now() - 60_000;
    const { writer } = writerFor(prefix, { shards: 4 });
    await writer.start();
    const devices = Array.from({ length: 20 }, (_, i) => `sensor-${i}`);
    await writer.write(
      devices.flatMap((device) => [0, 1].map((i) => item({ device, ts: ts + i, temp_f: i }))),
    );
    await writer.flush();
    const shardsOf = new Map<string, Set<string>>();
    for (const e of await partitionEntries(redis, prefix))
      shardsOf.set(e.fields.device!, (shardsOf.get(e.fields.device!) ?? new Set()).add(e.key));
    expect(shardsOf.size).toBe(20);
    for (const shards of shardsOf.values()) expect(shards.size).toBe(1);
    expect(writer.stats.partitions.size).toBeGreaterThan(1);
    expect(writer.stats.partitions.size).toBeLessThanOrEqual(4);
  });

  it('fails for good with WriteFailedError when the batch ledger is a key of the wrong type (exit 4)', async () => {
    const prefix = randomPrefix('writer');
    const ts = Date.now();
    const keys = new PipelineKeys(prefix);
    await redis.set(keys.batchLedger(keys.partitionKeyFor(ts)), 'not a hash');
    const { writer } = writerFor(prefix);
    await writer.start();
    await writer.write([item({ device: 'd', ts, temp_f: 1 })]);
    await expect(writer.flush()).rejects.toBeInstanceOf(WriteFailedError);
    expect(writer.failed?.message).toMatch(/WRONGTYPE/);
    // A writer that failed refuses more work rather than losing it silently.
    await expect(writer.write([item({ device: 'd', ts, temp_f: 2 })])).rejects.toBe(writer.failed);
  });

  it('rejects the readings Redis refuses in a partition of the wrong type, with its error', async () => {
    const prefix = randomPrefix('writer');
    const ts = Date.now();
    await redis.set(new PipelineKeys(prefix).partitionKeyFor(ts), 'not a stream');
    const { writer, rejected } = writerFor(prefix);
    await writer.start();
    await writer.write([item({ device: 'd', ts, temp_f: 1 })]);
    await writer.flush();
    expect(writer.stats).toMatchObject({ written: 0, rejected: 1 });
    expect(rejected).toEqual([['d', expect.stringMatching(/^refused by Redis: WRONGTYPE/)]]);
  });

  it('gives up starting with GaveUpError when nothing answers for giveUpAfterMs', async () => {
    const { writer } = writerFor(randomPrefix('writer'), { giveUpAfterMs: 300 }, 'redis://127.0.0.1:1');
    const started = Date.now();
    await expect(writer.start()).rejects.toBeInstanceOf(GaveUpError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('refuses to write before start() registered the script', async () => {
    const { writer } = writerFor(randomPrefix('writer'));
    await writer.write([item({ device: 'd', ts: Date.now(), temp_f: 1 })]);
    await expect(writer.flush()).rejects.toThrow(/start\(\) was not called/);
  });

  it('reports what it wrote and rejected to its metrics', async () => {
    const registry = new Registry();
    const { writer } = writerFor(randomPrefix('writer'), { metrics: prometheusMetrics(registry) });
    await writer.start();
    const now = Date.now();
    await writer.write([
      item({ device: 'd', ts: now, temp_f: 1 }),
      item({ device: 'd', ts: now, temp_f: Number.NaN }),
    ]);
    await writer.flush();
    const text = await registry.metrics();
    expect(text).toMatch(/^pipe_producer_readings_written_total 1$/m);
    expect(text).toMatch(/^pipe_producer_readings_rejected_total 1$/m);
    expect(text).toMatch(/^pipe_producer_batch_seconds_count 1$/m);
  });
});

describe('SampleDataSet', () => {
  it('writes every device at every interval step of [from, to), reporting its progress', async () => {
    const prefix = randomPrefix('sample');
    const { writer } = writerFor(prefix) as unknown as { writer: PartitionWriter<Reading> };
    await writer.start();
    const from = yesterdayUtc();
    const progress: number[] = [];
    const dataSet = new SampleDataSet({
      fromMs: from,
      toMs: from + 10_000,
      intervalMs: 1000,
      devices: 3,
      seed: 1,
      batchSize: 12,
      writer,
      onProgress: (produced) => progress.push(produced),
    });
    expect(dataSet.total).toBe(30);
    expect(await dataSet.run()).toEqual({ interrupted: false });
    await writer.flush();
    expect(progress).toEqual([12, 24, 30]);
    expect(dataSet.nextTs).toBe(from + 10_000);
    expect(await partitionEntries(redis, prefix)).toHaveLength(30);
  });

  it('stops after the batch in hand when stopped, and says where it stopped', async () => {
    const { writer } = writerFor(randomPrefix('sample')) as unknown as { writer: PartitionWriter<Reading> };
    await writer.start();
    const from = yesterdayUtc();
    const dataSet: SampleDataSet = new SampleDataSet({
      fromMs: from,
      toMs: from + 100_000,
      intervalMs: 1000,
      devices: 1,
      seed: 1,
      batchSize: 10,
      writer,
      onProgress: (produced) => {
        if (produced === 20) dataSet.stop();
      },
    });
    expect(await dataSet.run()).toEqual({ interrupted: true });
    expect(dataSet.produced).toBe(20);
    expect(dataSet.nextTs).toBe(from + 20_000);
  });
});

describe('LiveSimulation', () => {
  it('writes every device once per simulated step until stopped, and refuses a second start', async () => {
    const prefix = randomPrefix('live');
    const { writer } = writerFor(prefix) as unknown as { writer: PartitionWriter<Reading> };
    await writer.start();
    const simulation = new LiveSimulation({
      devices: 2,
      intervalMs: 100,
      speed: 10,
      seed: 3,
      batchSize: 100,
      writer,
    });
    simulation.start();
    expect(() => simulation.start()).toThrow(/already running/);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await simulation.stop();
    expect(simulation.produced).toBeGreaterThan(0);
    expect(simulation.produced % 2).toBe(0);
    expect(await partitionEntries(redis, prefix)).toHaveLength(simulation.produced);
  });
});
