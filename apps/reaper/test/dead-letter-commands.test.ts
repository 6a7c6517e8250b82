import { sharedRedis } from '@pipe/fixtures';
import { encodeDeadLetter, type PipelineKeys } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import {
  allDeadLetters,
  letterJson,
  purgeDeadLetters,
  renderDeadLetters,
  replayLetters,
} from '../src/dead-letter-commands.js';
import { addReadings } from './helpers.js';
import { sweepOnce } from './in-process.js';

const { redis, fresh } = sharedRedis('reaper');
const GROUP = 'g';

/** Puts `count` entries into the dead-letter stream the way the reaper does: read 2 times, never acked. */
async function deadLetterSome(keys: PipelineKeys, partition: string, count: number) {
  const added = await addReadings(redis, partition, count);
  await redis.xgroup('CREATE', partition, GROUP, '0');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '>');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '0');
  await new Promise((r) => setTimeout(r, 150));
  expect(await sweepOnce(redis, keys, { minIdleMs: 100, maxDeliveries: 2 })).toMatchObject({
    deadLettered: count,
  });
  return added;
}

async function listLetters(keys: PipelineKeys) {
  const entries = [];
  for await (const entry of allDeadLetters(redis, keys)) entries.push(entry);
  return entries;
}

const letter = (stream: string, id: string, fields: Record<string, string>) =>
  encodeDeadLetter({
    stream,
    id,
    group: GROUP,
    consumer: 'c',
    deliveries: 5,
    idle_ms: 1,
    reason: 'r',
    fields,
    dead_at: Date.now(),
  });

describe('dead-letter commands', () => {
  it('lists a letter and replays it into its partition, removing it from the dead-letter stream', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await deadLetterSome(keys, partition, 1);
    const [original] = (await redis.xrange(partition, ids[0]!, ids[0]!)) as [string, string[]][];

    const entries = await listLetters(keys);
    const letters = entries.map(letterJson);
    expect(letters).toHaveLength(1);
    const listed = letters[0]!;
    expect(listed).toMatchObject({
      stream: partition,
      id: ids[0],
      group: GROUP,
      consumer: 'crashy',
      deliveries: 2,
    });
    const fields: Record<string, string> = {};
    for (let i = 0; i < original![1].length; i += 2) fields[original![1][i]!] = original![1][i + 1]!;
    expect(listed.fields).toEqual(fields);
    const text = renderDeadLetters(entries);
    expect(text).toContain(String(listed.letterId));
    expect(text).toContain('delivered 2 times without ack');

    const replay = await replayLetters(redis, keys, [String(listed.letterId)]);
    expect(replay.failed).toEqual([]);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
    const [newest] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(newest![0]).not.toBe(ids[0]);
    expect(replay.replayed).toEqual([{ letterId: listed.letterId, stream: partition, id: newest![0] }]);
    expect(newest![1]).toEqual(original![1]);
    // The group sees the replayed reading as a new entry.
    const read = (await redis.xreadgroup('GROUP', GROUP, 'fixed', 'STREAMS', partition, '>')) as [
      string,
      [string, string[]][],
    ][];
    expect(read[0]![1].map(([id]) => id)).toEqual([newest![0]]);

    const again = await replayLetters(redis, keys, [String(listed.letterId)]);
    expect(again).toEqual({
      replayed: [],
      failed: [{ letterId: listed.letterId, outcome: expect.objectContaining({ status: 'gone' }) }],
    });
  });

  it('replays all, adds ts from the original ID to RU202 entries without one, and keeps letters whose partition is gone', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await redis.xadd(partition, '*', 'temp_f', '61.5');
    const ru202 = (await redis.xrange(partition, '-', '+')) as [string, string[]][];
    await redis.del(partition);
    await deadLetterSome(keys, partition, 2);
    const ru202Id = ru202[0]![0];
    await redis.xadd(keys.deadLetters, '*', ...letter(partition, ru202Id, { temp_f: '61.5' }));
    const expired = keys.partitionKeyFor(Date.UTC(2020, 0, 1));
    await redis.xadd(keys.deadLetters, '*', ...letter(expired, '1577836800000-0', { temp_f: '1' }));
    const lengthBefore = await redis.xlen(partition);

    const replay = await replayLetters(redis, keys, 'all');
    expect(replay.replayed).toHaveLength(3);
    expect(replay.failed.map((f) => f.outcome.status)).toEqual(['nostream']);
    expect(await redis.xlen(partition)).toBe(lengthBefore + 3);
    expect(await redis.exists(expired)).toBe(0);
    const left = (await listLetters(keys)).map(letterJson);
    expect(left.map((l) => l.stream)).toEqual([expired]);
    const [newest] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(newest![1]).toEqual(['temp_f', '61.5', 'ts', ru202Id.split('-')[0]]);
  });

  it('purges every letter and says how many there were', async () => {
    const { keys } = fresh();
    await deadLetterSome(keys, keys.partitionKeyFor(Date.now()), 3);
    expect(await purgeDeadLetters(redis, keys)).toBe(3);
    expect(await redis.exists(keys.deadLetters)).toBe(0);
    expect(await purgeDeadLetters(redis, keys)).toBe(0);
  });

  it('lists more letters than one page holds, oldest first', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1_201; i++)
      pipeline.xadd(keys.deadLetters, '*', ...letter(partition, `${i + 1}-0`, { temp_f: String(i) }));
    await pipeline.exec();

    const ids = (await listLetters(keys)).map((e) => e.letter.ok && e.letter.value.id);
    expect(ids).toHaveLength(1_201);
    expect(ids[0]).toBe('1-0');
    expect(ids[1_200]).toBe('1201-0');
  });

  it('shows an undecodable letter as such, in the table and as JSON', async () => {
    const { keys } = fresh();
    const letterId = await redis.xadd(keys.deadLetters, '*', 'stream', 'x');
    const entries = await listLetters(keys);

    expect(letterJson(entries[0]!)).toEqual({ letterId, invalid: expect.any(String) });
    expect(renderDeadLetters(entries)).toMatch(new RegExp(`${letterId}\\s+\\?\\s+\\?.*undecodable letter: `));
  });
});
