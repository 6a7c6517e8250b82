import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAverage, HOUR_MS, PipelineKeys } from '@pipe/streams';
import { randomPrefix, sleep } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runApp } from '../src/apps.js';

const url = inject('redisUrl');
const redis = new Redis(url);
afterAll(() => redis.disconnect());

const dir = await mkdtemp(join(tmpdir(), 'pipe-exactly-once-'));

async function ingest(prefix: string, readings: object[], ...flags: string[]) {
  const file = join(dir, `${prefix}-${Date.now()}.ndjson`);
  await writeFile(file, readings.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return runApp('producer', ['ingest', '--file', file, '--redis-url', url, '--prefix', prefix, ...flags]);
}

function drain(prefix: string) {
  return runApp('aggregator', ['run', '--drain', '--redis-url', url, '--prefix', prefix]);
}

/** Where each reading ended up: counted into averages, late, dead-lettered. */
async function accounting(keys: PipelineKeys) {
  let counted = 0;
  for (const [id, fields] of await redis.xrange(keys.averages, '-', '+')) {
    const average = decodeAverage(id, fields);
    if (!average.ok) throw average.error;
    counted += average.value.num_observations;
  }
  return {
    counted,
    late: await redis.xlen(keys.late),
    dead: await redis.xlen(keys.deadLetters),
  };
}

describe('exactly once through the CLIs', () => {
  it('sends a reading of a published hour to the late stream after its partition expired and came back', async () => {
    const prefix = randomPrefix('recreated');
    const keys = new PipelineKeys(prefix);
    // Two readings 20 s apart in one hour, the first 50 s old (wait while an hour turns between them).
    let first = Date.now() - 50_000;
    while (Math.floor(first / HOUR_MS) !== Math.floor((first + 20_000) / HOUR_MS)) {
      await sleep(1000);
      first = Date.now() - 50_000;
    }
    const partition = keys.partitionKeyFor(first);
    const one = await ingest(prefix, [{ device: 'a', ts: first, temp_f: 50 }], '--retention', '60s');
    expect(one.code, one.stderr).toBe(0);
    expect((await drain(prefix)).code).toBe(0);
    expect(await accounting(keys)).toEqual({ counted: 1, late: 0, dead: 0 });

    // The partition expires 60 s after its newest reading; the straggler comes 20 s later than the first.
    while ((await redis.exists(partition)) === 1) await sleep(200);
    const two = await ingest(prefix, [{ device: 'b', ts: first + 20_000, temp_f: 70 }], '--retention', '60s');
    expect(two.code, two.stderr).toBe(0);
    const drained = await drain(prefix);
    expect(drained.code, drained.stderr).toBe(0);
    expect(await accounting(keys)).toEqual({ counted: 1, late: 1, dead: 0 });
    const [[, fields]] = (await redis.xrange(keys.late, '-', '+')) as [[string, string[]]];
    expect(fields.join(' ')).toMatch(/reason hour \d+ was already closed/);
  });
});
