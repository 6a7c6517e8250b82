import { sharedRedis } from '@pipe/fixtures';
import { defineLuaCommand, outboxOf } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { Sweeper } from '../src/sweeper.js';
import { addReadings, pendingByConsumer } from './helpers.js';
import { keepConsumerAlive, recordingLog, sweepOnce, sweepPolicy } from './in-process.js';

const { redis, fresh } = sharedRedis('reaper');
const GROUP = 'g';

const owners = async (partition: string) =>
  ((await redis.xpending(partition, GROUP, '-', '+', 100)) as [string, string, number, number][]).map(
    ([id, consumer]) => [id, consumer],
  );

describe('pending entries whose stream entries were deleted or trimmed', () => {
  it('counts them, drops them from the PEL and claims the rest, without a crash', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await addReadings(redis, partition, 12);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 10, 'STREAMS', partition, '>');
    // Two entries read three times by another dead consumer: at max deliveries.
    await redis.xreadgroup('GROUP', GROUP, 'dead2', 'COUNT', 10, 'STREAMS', partition, '>');
    for (let i = 0; i < 2; i++) await redis.xreadgroup('GROUP', GROUP, 'dead2', 'STREAMS', partition, '0');
    // Under the PEL: XTRIM drops the first two, XDEL three more, and one of the over-delivered two.
    await redis.xtrim(partition, 'MINID', ids[2]!);
    await redis.xdel(partition, ids[2]!, ids[3]!, ids[4]!, ids[10]!);
    await sleep(1500);
    const stopLive = await keepConsumerAlive(redis, partition, GROUP, 'live');

    const summary = await sweepOnce(redis, keys, { minIdleMs: 1000, maxDeliveries: 3, liveWithinMs: 1000 });
    stopLive();

    expect(summary).toMatchObject({ deletedIds: 6, deadLettered: 1, reclaimed: 5, complete: true });
    expect(await owners(partition)).toEqual(ids.slice(5, 10).map((id) => [id, 'live']));
    const letters = (await redis.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    expect(letters.map(([, f]) => f[f.indexOf('id') + 1])).toEqual([ids[11]]);
    const warned = summary.events.filter((e) => e.msg === 'pending entries no longer in stream');
    expect(warned.reduce((n, e) => n + Number(e.count), 0)).toBe(6);
  });
});

describe('claiming stale entries', () => {
  it('claims page by page, each page to the live consumer holding the fewest, without counting a delivery', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await addReadings(redis, partition, 5);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'STREAMS', partition, '>');
    await sleep(300);
    const stops = [
      await keepConsumerAlive(redis, partition, GROUP, 'a'),
      await keepConsumerAlive(redis, partition, GROUP, 'b'),
    ];

    const summary = await sweepOnce(redis, keys, { minIdleMs: 200, liveWithinMs: 1000, pageSize: 2 });
    for (const stop of stops) stop();

    expect(summary).toMatchObject({ reclaimed: 5, heldBack: 0, awaitingLiveConsumer: 0 });
    // Pages of 2: a (0) takes 2, b (0 < 2) takes 2, a (2, not fewer than b's 2) takes the last.
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ a: 3, b: 2, dead: 0 });
    const claimed = summary.events.filter((e) => e.msg === 'claimed stale entries');
    expect(claimed.map((e) => [e.consumer, e.count])).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
    // JUSTID: the claim itself is no delivery. (The keep-alive re-reads count for each consumer's first
    // entry, so only the others are checked.)
    const deliveries = new Map(
      ((await redis.xpending(partition, GROUP, '-', '+', 10)) as [string, string, number, number][]).map(
        ([id, , , n]) => [id, n],
      ),
    );
    expect([ids[1], ids[3], ids[4]].map((id) => deliveries.get(id!))).toEqual([1, 1, 1]);
  });

  it('hands entries delivered more than once to idle live consumers one each, most delivered first, and holds back the rest with their owner', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await addReadings(redis, partition, 5);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'STREAMS', partition, '>');
    // Deliveries: e0 3, e1 2, e2 2, e3 and e4 1 (the batch after a crash loop).
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 3, 'STREAMS', partition, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 1, 'STREAMS', partition, '0');
    await sleep(300);
    const stops = [
      await keepConsumerAlive(redis, partition, GROUP, 'a'),
      await keepConsumerAlive(redis, partition, GROUP, 'b'),
    ];

    const summary = await sweepOnce(redis, keys, { minIdleMs: 200, liveWithinMs: 1000 });
    for (const stop of stops) stop();

    // Both live consumers took a suspect, so none is left for the fresh entries: they wait.
    expect(summary).toMatchObject({ reclaimed: 2, heldBack: 1, awaitingLiveConsumer: 2, deadLettered: 0 });
    expect(await owners(partition)).toEqual([
      [ids[0], 'a'],
      [ids[1], 'b'],
      [ids[2], 'dead'],
      [ids[3], 'dead'],
      [ids[4], 'dead'],
    ]);
    expect(summary.events.find((e) => e.msg === 'held back entries delivered more than once')).toMatchObject({
      stream: partition,
      count: 1,
    });
  });

  it('does not hand entries to a consumer that holds stale entries itself, however recently it was seen', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 4);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 2, 'STREAMS', partition, '>');
    await redis.xreadgroup('GROUP', GROUP, 'hung', 'COUNT', 2, 'STREAMS', partition, '>');
    await sleep(300);
    // Seen just now (an empty `>` read), yet its own entries stay idle: it is not working its PEL.
    await redis.xreadgroup('GROUP', GROUP, 'hung', 'STREAMS', partition, '>');

    const summary = await sweepOnce(redis, keys, { minIdleMs: 200, liveWithinMs: 5000 });

    expect(summary).toMatchObject({ reclaimed: 0, awaitingLiveConsumer: 4 });
    expect(summary.events.find((e) => e.msg === 'no live consumer to claim stale entries for')).toMatchObject(
      {
        stream: partition,
        group: GROUP,
        stale: 4,
      },
    );
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ dead: 2, hung: 2 });
  });
});

describe('consumer hygiene', () => {
  it('deletes consumers idle past the consumer TTL with nothing pending, and one with pending entries only after they are claimed', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 2);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xgroup('CREATECONSUMER', partition, GROUP, 'empty-old');
    await redis.xreadgroup('GROUP', GROUP, 'holding-old', 'COUNT', 2, 'STREAMS', partition, '>');
    await sleep(1500);
    const stopRecent = await keepConsumerAlive(redis, partition, GROUP, 'recent');

    // Nothing is stale enough to claim: only the empty old consumer goes.
    const first = await sweepOnce(redis, keys, {
      consumerTtlMs: 1000,
      minIdleMs: 3_600_000,
      liveWithinMs: 1000,
    });
    expect(first).toMatchObject({ consumersRemoved: 1, reclaimed: 0 });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ 'holding-old': 2, recent: 0 });

    // Now its entries are claimed to the live consumer first, and then it holds nothing and goes too.
    const second = await sweepOnce(redis, keys, { consumerTtlMs: 1000, minIdleMs: 100, liveWithinMs: 1000 });
    stopRecent();
    expect(second).toMatchObject({ consumersRemoved: 1, reclaimed: 2 });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ recent: 2 });
    expect(second.events.find((e) => e.msg === 'removed idle consumer')).toMatchObject({
      consumer: 'holding-old',
    });
  });

  it('keeps a consumer with no live peer to take its entries, however idle', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 3);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'holding-old', 'COUNT', 3, 'STREAMS', partition, '>');
    await sleep(400);

    const summary = await sweepOnce(redis, keys, { consumerTtlMs: 300, minIdleMs: 100, liveWithinMs: 200 });
    expect(summary).toMatchObject({ consumersRemoved: 0, reclaimed: 0, awaitingLiveConsumer: 3 });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ 'holding-old': 3 });
  });

  it('checks pending and idle inside the delete script, whatever the caller saw', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 1);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'holder', 'COUNT', 1, 'STREAMS', partition, '>');
    await redis.xgroup('CREATECONSUMER', partition, GROUP, 'empty');
    await sleep(300);
    const deleteIfIdle = defineLuaCommand(
      redis,
      'testDeleteIdleConsumer',
      new URL('../src/lua/delete-idle-consumer-1.lua', import.meta.url),
    );

    expect(await deleteIfIdle([partition], [GROUP, 'holder', 100])).toBe(0);
    expect(await deleteIfIdle([partition], [GROUP, 'empty', 60_000])).toBe(0);
    expect(await deleteIfIdle([partition], [GROUP, 'nobody', 100])).toBe(0);
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ holder: 1, empty: 0 });
    expect(await deleteIfIdle([partition], [GROUP, 'empty', 100])).toBe(1);
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ holder: 1 });
  });
});

describe('letters left in an outbox', () => {
  it('forwards the dead letters a killed reaper left behind, once, and leaves entries bound elsewhere', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 1);
    // What dead-letter-2.lua writes before forwardOutbox moves it (the reaper died in between), and a
    // late reading, which is the aggregator's to forward.
    const outbox = outboxOf(partition);
    await redis.xadd(outbox, '*', 'to', keys.deadLetters, 'stream', partition, 'reason', 'poison');
    await redis.xadd(outbox, '*', 'to', keys.late, 'reason', 'late');
    for (let i = 0; i < 2; i++) await sweepOnce(redis, keys);
    const letters = (await redis.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    expect(letters.map(([, f]) => f)).toEqual([['stream', partition, 'reason', 'poison']]);
    const left = (await redis.xrange(outbox, '-', '+')) as [string, string[]][];
    expect(left.map(([, f]) => f[1])).toEqual([keys.late]);
    expect(await redis.xlen(keys.late)).toBe(0);
  });
});

describe('what ACLs cannot refuse', () => {
  it('reports readings removed from a partition once, and again when more are removed', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const { ids } = await addReadings(redis, partition, 4);
    const { log, events } = recordingLog();
    const sweeper = new Sweeper({ redis, keys, log }, sweepPolicy());
    const removals = () => events.filter((e) => e.msg?.startsWith('readings were removed from a partition'));

    expect(await sweeper.sweep()).toMatchObject({ removedEntries: 0 });
    await redis.xdel(partition, ids[1]!);
    expect(await sweeper.sweep()).toMatchObject({ removedEntries: 1 });
    expect(await sweeper.sweep()).toMatchObject({ removedEntries: 1 });
    expect(removals()).toEqual([expect.objectContaining({ level: 'error', stream: partition, removed: 1 })]);

    await redis.xtrim(partition, 'MAXLEN', 1);
    expect(await sweeper.sweep()).toMatchObject({ removedEntries: 3 });
    expect(removals().map((e) => e.removed)).toEqual([1, 3]);
  });

  it('warns once when a partition expires within the hour with readings no group has counted', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 3);
    await redis.xgroup('CREATE', partition, 'aggregator', '0');
    await redis.xreadgroup('GROUP', 'aggregator', 'a', 'COUNT', 1, 'STREAMS', partition, '>');
    await redis.xack(partition, 'aggregator', (await redis.xrange(partition, '-', '+', 'COUNT', 1))[0]![0]);
    const { log, events } = recordingLog();
    const sweeper = new Sweeper({ redis, keys, log }, sweepPolicy());
    const warnings = () => events.filter((e) => e.msg?.startsWith('a partition expires before'));

    // A day's expiry is far off: nothing to say.
    await redis.pexpire(partition, 86_400_000);
    expect(await sweeper.sweep()).toMatchObject({ expiringUncounted: 0 });
    await redis.pexpire(partition, 1_800_000);
    expect(await sweeper.sweep()).toMatchObject({ expiringUncounted: 2 });
    expect(await sweeper.sweep()).toMatchObject({ expiringUncounted: 2 });
    expect(warnings()).toEqual([expect.objectContaining({ level: 'warn', stream: partition, uncounted: 2 })]);
    // Lowered again: a new expiry, warned about again.
    await redis.pexpire(partition, 600_000);
    await sweeper.sweep();
    expect(warnings()).toHaveLength(2);
  });
});

describe('a sweep that cannot finish', () => {
  it('counts a group whose sweep failed, logs it and sweeps the other groups', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 2);
    await redis.xgroup('CREATE', partition, 'doomed', '0');
    await redis.xgroup('CREATE', partition, 'kept', '0');
    await redis.xgroup('CREATECONSUMER', partition, 'kept', 'gone');
    const { log, events } = recordingLog();
    const sweeper = new Sweeper({ redis, keys, log }, sweepPolicy({ consumerTtlMs: 0 }));
    // The group is destroyed between discovery and its sweep, as an operator's XGROUP DESTROY might.
    let asked = 0;
    const summary = await sweeper.sweep(() => {
      if (++asked === 3) void redis.xgroup('DESTROY', partition, 'doomed');
      return true;
    });

    expect(summary).toMatchObject({ groups: 2, failedGroups: 1, consumersRemoved: 1, complete: true });
    expect(events.find((e) => e.msg === 'sweeping a group failed; the next sweep retries')).toMatchObject({
      stream: partition,
      group: 'doomed',
    });
  });

  it('stops between steps when asked to, and says it did not complete', async () => {
    const { keys } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 2);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'dead', 'STREAMS', partition, '>');

    const summary = await new Sweeper(
      { redis, keys, log: recordingLog().log },
      sweepPolicy({ minIdleMs: 0 }),
    ).sweep(() => false);

    expect(summary).toMatchObject({ partitions: 1, groups: 0, reclaimed: 0, complete: false });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ dead: 2 });
  });
});
