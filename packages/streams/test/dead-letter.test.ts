import { RedisCluster, randomPrefix, sleep } from '@pipe/testkit';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDeadLetter, encodeDeadLetter } from '../src/codecs.js';
import { deadLetterPending, listDeadLetters, replayDeadLetter } from '../src/dead-letter.js';
import { PipelineKeys } from '../src/keys.js';
import { judgeConsumers, liveConsumers } from '../src/liveness.js';
import { defineLuaCommand } from '../src/lua-command.js';
import { forwardOutbox, outboxOf } from '../src/outbox.js';
import { connect } from '../src/redis.js';
import { sharedServer } from './helpers.js';

const GROUP = 'g';
const FORWARD_LUA = new URL('../src/lua/forward-outbox-2.lua', import.meta.url);
const REPLAY_LUA = new URL('../src/lua/replay-dead-letter-2.lua', import.meta.url);

/**
 * A partition with entries a, b, c, d pending at `crashy`: a and d delivered 3 times, b once; c acked;
 * d deleted from the stream. Returns the IDs.
 */
async function pendingSetup(redis: Redis | Cluster, partition: string) {
  const a = (await redis.xadd(partition, '*', 'device', 'x', 'temp_f', '70.5', 'ts', '1'))!;
  const b = (await redis.xadd(partition, '*', 'device', 'x', 'temp_f', '71'))!;
  const c = (await redis.xadd(partition, '*', 'device', 'x', 'temp_f', '72'))!;
  const d = (await redis.xadd(partition, '*', 'device', 'x', 'temp_f', '73'))!;
  await redis.xgroup('CREATE', partition, GROUP, '0');
  await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '>');
  await redis.xack(partition, GROUP, c);
  // As if read three times: RETRYCOUNT sets the delivery count.
  await redis.call('XCLAIM', partition, GROUP, 'crashy', 0, a, d, 'RETRYCOUNT', 3, 'JUSTID');
  await redis.xdel(partition, d);
  await sleep(60);
  return { a, b, c, d };
}

async function expectMoved(
  redis: Redis | Cluster,
  keys: PipelineKeys,
  partition: string,
  ids: { a: string; b: string; c: string; d: string },
) {
  const outcome = await deadLetterPending(redis, keys.deadLetters, {
    stream: partition,
    group: GROUP,
    ids: [ids.a, ids.b, ids.c, ids.d],
    minIdleMs: 50,
    minDeliveries: 2,
    reason: 'delivered {deliveries} times',
  });
  expect(outcome).toEqual({ deadLettered: [ids.a], skipped: [ids.b, ids.c], gone: [ids.d] });
  const pel = (await redis.xpending(partition, GROUP, '-', '+', 10)) as [string][];
  expect(pel.map(([id]) => id)).toEqual([ids.b]);
  const [letter] = await listDeadLetters(redis, keys.deadLetters);
  expect(letter?.letter.ok && letter.letter.value).toMatchObject({
    stream: partition,
    id: ids.a,
    group: GROUP,
    consumer: 'crashy',
    deliveries: 3,
    reason: 'delivered 3 times',
    fields: { device: 'x', temp_f: '70.5', ts: '1' },
  });
  // The original field order survives the JSON.
  const raw = (await redis.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
  const fields = raw[0]![1];
  expect(fields.filter((_, i) => i % 2 === 0)).toEqual([
    'stream',
    'id',
    'group',
    'consumer',
    'deliveries',
    'idle_ms',
    'reason',
    'fields',
    'dead_at',
  ]);
  expect(fields[fields.indexOf('fields') + 1]).toBe('{"device":"x","temp_f":"70.5","ts":"1"}');
  expect(decodeDeadLetter(fields).ok).toBe(true);
  return letter!.letterId;
}

describe('dead letters on one server', () => {
  const { redis } = sharedServer('dlq');

  it('moves only entries still pending, idle and delivered enough, and acks deleted ones without a letter', async () => {
    const keys = new PipelineKeys(randomPrefix('dlq'));
    const partition = keys.partitionKeyFor(Date.now());
    await expectMoved(redis, keys, partition, await pendingSetup(redis, partition));
  });

  it('leaves an entry that its consumer re-read since the caller looked', async () => {
    const keys = new PipelineKeys(randomPrefix('dlq'));
    const partition = keys.partitionKeyFor(Date.now());
    const { a } = await pendingSetup(redis, partition);
    await redis.xreadgroup('GROUP', GROUP, 'crashy', 'STREAMS', partition, '0');
    const outcome = await deadLetterPending(redis, keys.deadLetters, {
      stream: partition,
      group: GROUP,
      ids: [a],
      minIdleMs: 50,
      reason: 'x',
    });
    expect(outcome.skipped).toEqual([a]);
    expect(await redis.exists(keys.deadLetters)).toBe(0);
  });

  it('replays a letter into its stream and deletes it; a second replay finds it gone', async () => {
    const keys = new PipelineKeys(randomPrefix('dlq'));
    const partition = keys.partitionKeyFor(Date.now());
    const letterId = await expectMoved(redis, keys, partition, await pendingSetup(redis, partition));
    const replayed = await replayDeadLetter(redis, keys.deadLetters, letterId);
    expect(replayed).toMatchObject({ status: 'replayed', stream: partition });
    const [last] = (await redis.xrevrange(partition, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(last).toEqual([
      replayed.status === 'replayed' && replayed.id,
      ['device', 'x', 'temp_f', '70.5', 'ts', '1'],
    ]);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
    expect(await replayDeadLetter(redis, keys.deadLetters, letterId)).toEqual({ status: 'gone' });
  });
});

describe('liveness', () => {
  const { redis } = sharedServer('live');

  it('judges consumers by XINFO idle, and lets a claimer discount its own claims', async () => {
    const keys = new PipelineKeys(randomPrefix('live'));
    const partition = keys.partitionKeyFor(Date.now());
    await redis.xadd(partition, '*', 'temp_f', '1');
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'old', 'STREAMS', partition, '>');
    await sleep(300);
    await redis.xgroup('CREATECONSUMER', partition, GROUP, 'fresh');
    expect((await liveConsumers(redis, partition, GROUP, 200)).map((c) => c.name)).toEqual(['fresh']);
    const judged = await judgeConsumers(redis, partition, GROUP, 200, {
      lastSeen: (c, readAt) => (c.name === 'fresh' ? 0 : readAt - c.idleMs),
    });
    expect(judged.map((c) => [c.name, c.pending, c.live])).toEqual([
      ['fresh', 0, false],
      ['old', 1, false],
    ]);
    expect(await liveConsumers(redis, `${partition}:none`, GROUP, 200)).toEqual([]);
  });
});

describe('dead letters on a Redis Cluster (stream and dead-letter stream in different slots)', () => {
  let cluster: RedisCluster;
  let redis: Cluster;
  const keys = new PipelineKeys(randomPrefix('dlqc'));
  const partition = keys.partitionKeyFor(Date.now());

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    redis = connect({ clusterNodes: cluster.seeds.split(',') }) as Cluster;
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it('moves, skips and acks the same entries with scripts of one slot each, and replays', async () => {
    expect(await redis.cluster('KEYSLOT', partition)).not.toBe(
      await redis.cluster('KEYSLOT', keys.deadLetters),
    );
    const letterId = await expectMoved(redis, keys, partition, await pendingSetup(redis, partition));
    expect(await replayDeadLetter(redis, keys.deadLetters, letterId)).toMatchObject({
      status: 'replayed',
      stream: partition,
    });
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
  });

  it('writes nothing twice when a move or a replay is repeated after a crash between its two steps', async () => {
    const outbox = outboxOf(partition);
    await redis.xadd(partition, '*', 'device', 'y', 'temp_f', '1');
    const first = (await redis.xadd(outbox, '*', 'to', keys.deadLetters, 'reason', 'first'))!;
    await redis.xadd(outbox, '*', 'to', keys.deadLetters, 'reason', 'second');
    // A forward that moved the first entry and died before deleting it from the outbox.
    const forward = defineLuaCommand(redis, 'pipeForwardOutbox', FORWARD_LUA);
    const marks = `{${keys.deadLetters}}:forwarded`;
    expect(
      await forward(
        [keys.deadLetters, marks],
        [outbox, 60_000, JSON.stringify([[first, ['reason', 'first']]])],
      ),
    ).toBe(1);
    expect(await forwardOutbox(redis, partition)).toBe(1);
    const letters = await redis.xrange(keys.deadLetters, '-', '+');
    expect(letters.map(([, fields]) => fields[1])).toEqual(['first', 'second']);
    expect(await redis.xlen(outbox)).toBe(0);

    // A replay that appended the entry and died before deleting the letter.
    const letterId = (await redis.xadd(
      keys.deadLetters,
      '*',
      ...encodeDeadLetter({
        stream: partition,
        id: '1-1',
        group: GROUP,
        consumer: 'c',
        deliveries: 5,
        idle_ms: 0,
        reason: 'r',
        fields: { device: 'z', temp_f: '2', ts: '5' },
        dead_at: 0,
      }),
    ))!;
    const replay = defineLuaCommand(redis, 'pipeReplayDeadLetter', REPLAY_LUA);
    const [, appended] = (await replay(
      [partition, `{${partition}}:replayed`],
      [keys.deadLetters, letterId, 60_000, 'device', 'z', 'temp_f', '2', 'ts', '5'],
    )) as [string, string];
    expect(await replayDeadLetter(redis, keys.deadLetters, letterId)).toEqual({
      status: 'replayed',
      stream: partition,
      id: appended,
    });
    const replayed = (await redis.xrange(partition, '-', '+')).filter(([, fields]) => fields[1] === 'z');
    expect(replayed.map(([id]) => id)).toEqual([appended]);
    expect(await redis.xrange(keys.deadLetters, letterId, letterId)).toEqual([]);
  });
});
