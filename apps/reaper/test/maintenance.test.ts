import { defineLuaCommand, outboxOf } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { addReadings, pendingByConsumer, runReaper, sharedRedis } from './helpers.js';

const { redis, fresh } = sharedRedis();
const GROUP = 'g';

/**
 * Registers a consumer and keeps it active, as a ConsumerLoop does by re-reading its own PEL (ID 0)
 * every pendingCheckMs; returns a stop function. (On Redis 7.0 an empty `>` read does not count.)
 */
async function keepAlive(partition: string, consumer: string): Promise<() => void> {
  await redis.xgroup('CREATECONSUMER', partition, GROUP, consumer);
  const timer = setInterval(
    () => void redis.xreadgroup('GROUP', GROUP, consumer, 'STREAMS', partition, '0'),
    100,
  );
  return () => clearInterval(timer);
}

async function once(flags: string[], ...args: string[]) {
  const result = await runReaper(['once', ...flags, '--json', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, number | boolean>;
}

describe('pending entries whose stream entries were deleted or trimmed', () => {
  it('counts them, drops them from the PEL and claims the rest, without a crash', async () => {
    const { keys, flags } = fresh();
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
    const stopLive = await keepAlive(partition, 'live');

    const summary = await once(flags, '--min-idle', '1s', '--max-deliveries', '3', '--live-within', '1s');
    stopLive();

    expect(summary).toMatchObject({ deletedIds: 6, deadLettered: 1, reclaimed: 5, complete: true });
    const pel = (await redis.xpending(partition, GROUP, '-', '+', 100)) as [string, string, number, number][];
    expect(pel.map(([id, consumer]) => [id, consumer])).toEqual(ids.slice(5, 10).map((id) => [id, 'live']));
    const letters = (await redis.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    expect(letters.map(([, f]) => f[f.indexOf('id') + 1])).toEqual([ids[11]]);
  });
});

describe('consumer hygiene', () => {
  it('deletes consumers idle past --consumer-ttl with nothing pending, and one with pending entries only after they are claimed', async () => {
    const { keys, flags } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 2);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xgroup('CREATECONSUMER', partition, GROUP, 'empty-old');
    await redis.xreadgroup('GROUP', GROUP, 'holding-old', 'COUNT', 2, 'STREAMS', partition, '>');
    await sleep(1500);
    const stopRecent = await keepAlive(partition, 'recent');

    // Nothing is stale enough to claim: only the empty old consumer goes.
    const first = await once(flags, '--consumer-ttl', '1s', '--min-idle', '1h', '--live-within', '1s');
    expect(first).toMatchObject({ consumersRemoved: 1, reclaimed: 0 });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ 'holding-old': 2, recent: 0 });

    // Now its entries are claimed to the live consumer first, and then it holds nothing and goes too.
    const second = await once(flags, '--consumer-ttl', '1s', '--min-idle', '100ms', '--live-within', '1s');
    stopRecent();
    expect(second).toMatchObject({ consumersRemoved: 1, reclaimed: 2 });
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ recent: 2 });
  });

  it('keeps a consumer with no live peer to take its entries, however idle', async () => {
    const { keys, flags } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 3);
    await redis.xgroup('CREATE', partition, GROUP, '0');
    await redis.xreadgroup('GROUP', GROUP, 'holding-old', 'COUNT', 3, 'STREAMS', partition, '>');
    await sleep(400);

    const summary = await once(
      flags,
      '--consumer-ttl',
      '300ms',
      '--min-idle',
      '100ms',
      '--live-within',
      '200ms',
    );
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
      new URL('../dist/lua/delete-idle-consumer-1.lua', import.meta.url),
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
    const { keys, flags } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    await addReadings(redis, partition, 1);
    // What dead-letter-2.lua writes before forwardOutbox moves it (the reaper died in between), and a
    // late reading, which is the aggregator's to forward.
    const outbox = outboxOf(partition);
    await redis.xadd(outbox, '*', 'to', keys.deadLetters, 'stream', partition, 'reason', 'poison');
    await redis.xadd(outbox, '*', 'to', keys.late, 'reason', 'late');
    for (let i = 0; i < 2; i++) await once(flags);
    const letters = (await redis.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    expect(letters.map(([, f]) => f)).toEqual([['stream', partition, 'reason', 'poison']]);
    const left = (await redis.xrange(outbox, '-', '+')) as [string, string[]][];
    expect(left.map(([, f]) => f[1])).toEqual([keys.late]);
    expect(await redis.xlen(keys.late)).toBe(0);
  });
});
