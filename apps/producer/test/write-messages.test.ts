import { partitionEntries } from '@pipe/fixtures';
import { DAY_MS, PipelineKeys, silentLogger } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AddReadings, addReadingsCommand } from '../src/add-readings-script.js';
import type { RawRecord } from '../src/ingest/records.js';
import { type WriteRecordsOptions, writeMessages } from '../src/write-records.js';

// writeMessages, what the MQTT bridge writes the messages in hand with, against the run's shared
// redis-server: several messages in one script call per partition, each still its own batch in the ledger.

const redisUrl = inject('redisUrl');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

/** The script's caller, recording how many batches each call carried. */
function countingCalls(): { addReadings: AddReadings; calls: number[] } {
  const run = addReadingsCommand(redis);
  const calls: number[] = [];
  return {
    calls,
    addReadings: (partition, ledger, idFromTime, batches) => {
      calls.push(batches.length);
      return run(partition, ledger, idFromTime, batches);
    },
  };
}

function setup() {
  const prefix = randomPrefix('messages');
  const { addReadings, calls } = countingCalls();
  const options: WriteRecordsOptions = {
    writer: { retentionMs: 2 * DAY_MS, idFromTime: false },
    addReadings,
    giveUpAfterMs: 2000,
    batchSize: 1000,
    log: silentLogger,
  };
  const write = (messages: (RawRecord | string)[][]) =>
    writeMessages(redis, new PipelineKeys(prefix), options, messages);
  return { prefix, calls, write };
}

/** How many times each device@ts is in the partitions. */
async function stored(prefix: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const { fields } of await partitionEntries(redis, prefix)) {
    const key = `${fields.device}@${fields.ts}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

// Well inside one UTC day, so that every reading below is in the same partition.
const ts = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS / 2;
const message = (device: string, ...offsets: number[]): RawRecord[] =>
  offsets.map((offset) => ({ device, ts: ts + offset, temp_f: 70 + offset }));

describe('writeMessages', () => {
  it('writes several messages in one script call, and a redelivered one among them only once', async () => {
    const { prefix, calls, write } = setup();
    const redelivered = message('dev-b', 10, 11);
    // Its first delivery landed, but its PUBACK was lost (the bridge was killed): the broker sends it again.
    expect(await write([redelivered])).toEqual([[]]);
    expect(await write([message('dev-a', 1), redelivered, message('dev-c', 20, 21, 22)])).toEqual([
      [],
      [],
      [],
    ]);
    expect(calls).toEqual([1, 3]);
    const seen = await stored(prefix);
    const expected = [
      ['dev-a', 1],
      ['dev-b', 10],
      ['dev-b', 11],
      ['dev-c', 20],
      ['dev-c', 21],
      ['dev-c', 22],
    ];
    expect(new Set(seen.keys())).toEqual(
      new Set(expected.map(([device, offset]) => `${device}@${ts + Number(offset)}`)),
    );
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('recognises a message written among others when it comes again alone or in another company', async () => {
    const { prefix, write } = setup();
    const messages = [message('dev-a', 1), message('dev-b', 2), message('dev-c', 3)];
    await write(messages);
    await write([messages[1]!]);
    await write([message('dev-d', 4), messages[2]!, messages[0]!]);
    const seen = await stored(prefix);
    expect(seen.size).toBe(4);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('rejects the bad records of one message by their index and writes the messages around it', async () => {
    const { prefix, calls, write } = setup();
    const bad: (RawRecord | string)[] = [
      { device: 'dev-b', ts: ts + 5, temp_f: 50 },
      'not a JSON object',
      { device: 'dev-b', ts: ts + 6, temp_f: 'warm' },
    ];
    const rejected = await write([message('dev-a', 1), bad, message('dev-c', 2)]);
    expect(rejected[0]).toEqual([]);
    expect(rejected[1]!.map((r) => r.index)).toEqual([1, 2]);
    expect(rejected[1]![0]!.reason).toBe('not a JSON object');
    expect(rejected[1]![1]!.reason).toMatch(/^temp_f/);
    expect(rejected[2]).toEqual([]);
    // One call of three batches: the bad message's good reading is a batch of its own.
    expect(calls).toEqual([3]);
    expect(new Set((await stored(prefix)).keys())).toEqual(
      new Set([`dev-a@${ts + 1}`, `dev-b@${ts + 5}`, `dev-c@${ts + 2}`]),
    );
  });

  it('keeps a script call to batchSize readings: messages beyond it go in the next call', async () => {
    const { prefix, calls, write } = setup();
    const big = Array.from({ length: 4 }, (_, m) =>
      message(`dev-${m}`, ...Array.from({ length: 400 }, (_, i) => i)),
    );
    await write(big);
    // 400 + 400 fit in 1000 readings; a third message would not.
    expect(calls).toEqual([2, 2]);
    expect((await partitionEntries(redis, prefix)).length).toBe(1600);
  });
});
