import { encodeDeadLetter } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { addReadings, runReaper, sharedRedis } from './helpers.js';

const { redis, fresh } = sharedRedis();
const GROUP = 'g';

/** Puts `count` entries into the dead-letter stream the way the reaper does: read 2 times, never acked. */
async function deadLetterSome(
  flags: string[],
  partition: string,
  count: number,
  extra?: (i: number) => string[],
) {
  const added = await addReadings(redis, partition, count, extra);
  await redis.xgroup('CREATE', partition, GROUP, '0');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '>');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '0');
  await new Promise((r) => setTimeout(r, 150));
  const once = await runReaper(['once', ...flags, '--json', '--min-idle', '100ms', '--max-deliveries', '2']);
  expect(JSON.parse(once.stdout)).toMatchObject({ deadLettered: count });
  return added;
}

async function listLetters(flags: string[]) {
  const listed = await runReaper(['dlq', 'list', ...flags, '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as Record<string, unknown>[];
}

describe('dlq commands', () => {
  it('lists a letter and replays it into its partition, removing it from the dead-letter stream', async () => {
    const { keys, flags } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await deadLetterSome(flags, partition, 1);
    const [original] = (await redis.xrange(partition, ids[0]!, ids[0]!)) as [string, string[]][];

    const letters = await listLetters(flags);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter).toMatchObject({
      stream: partition,
      id: ids[0],
      group: GROUP,
      consumer: 'crashy',
      deliveries: 2,
    });
    const fields: Record<string, string> = {};
    for (let i = 0; i < original![1].length; i += 2) fields[original![1][i]!] = original![1][i + 1]!;
    expect(letter.fields).toEqual(fields);
    const text = await runReaper(['dlq', 'list', ...flags]);
    expect(text.stdout).toContain(String(letter.letterId));
    expect(text.stdout).toContain('delivered 2 times without ack');

    const replay = await runReaper(['dlq', 'replay', String(letter.letterId), ...flags]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
    const [newest] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(newest![0]).not.toBe(ids[0]);
    expect(replay.stdout).toContain(newest![0]);
    expect(newest![1]).toEqual(original![1]);
    // The group sees the replayed reading as a new entry.
    const read = (await redis.xreadgroup('GROUP', GROUP, 'fixed', 'STREAMS', partition, '>')) as [
      string,
      [string, string[]][],
    ][];
    expect(read[0]![1].map(([id]) => id)).toEqual([newest![0]]);

    const again = await runReaper(['dlq', 'replay', String(letter.letterId), ...flags]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('gone');
  });

  it('replays --all, adds ts from the original ID to RU202 entries without one, and keeps letters whose partition is gone', async () => {
    const { keys, flags } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await redis.xadd(partition, '*', 'temp_f', '61.5');
    const ru202 = (await redis.xrange(partition, '-', '+')) as [string, string[]][];
    await redis.del(partition);
    await deadLetterSome(flags, partition, 2);
    const ru202Id = ru202[0]![0];
    await redis.xadd(
      keys.deadLetters,
      '*',
      ...encodeDeadLetter({
        stream: partition,
        id: ru202Id,
        group: GROUP,
        consumer: 'c',
        deliveries: 5,
        idle_ms: 1,
        reason: 'r',
        fields: { temp_f: '61.5' },
        dead_at: Date.now(),
      }),
    );
    const expired = keys.partitionKeyFor(Date.UTC(2020, 0, 1));
    await redis.xadd(
      keys.deadLetters,
      '*',
      ...encodeDeadLetter({
        stream: expired,
        id: '1577836800000-0',
        group: GROUP,
        consumer: 'c',
        deliveries: 5,
        idle_ms: 1,
        reason: 'r',
        fields: { temp_f: '1' },
        dead_at: Date.now(),
      }),
    );
    const lengthBefore = await redis.xlen(partition);

    const replay = await runReaper(['dlq', 'replay', '--all', ...flags]);
    expect(replay.code).toBe(1);
    expect(replay.stdout.trim().split('\n')).toHaveLength(3);
    expect(replay.stderr).toContain('nostream');
    expect(await redis.xlen(partition)).toBe(lengthBefore + 3);
    expect(await redis.exists(expired)).toBe(0);
    const left = await listLetters(flags);
    expect(left.map((l) => l.stream)).toEqual([expired]);
    const [newest] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(newest![1]).toEqual(['temp_f', '61.5', 'ts', ru202Id.split('-')[0]]);
  });

  it('purges only with --yes', async () => {
    const { keys, flags } = fresh();
    await deadLetterSome(flags, keys.partitionKeyFor(Date.now()), 3);
    const refused = await runReaper(['dlq', 'purge', ...flags]);
    expect(refused.code).not.toBe(0);
    expect(await redis.xlen(keys.deadLetters)).toBe(3);
    const purged = await runReaper(['dlq', 'purge', '--yes', ...flags]);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('purged 3 dead letters');
    expect(await redis.exists(keys.deadLetters)).toBe(0);
  });
});
