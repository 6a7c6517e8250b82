import { sharedRedis } from '@pipe/fixtures';
import { decodeDeadLetter, Stream } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@pipe/testkit';
import { addReadings, pendingByConsumer, startConsumer } from './helpers.js';
import { runReaperInProcess } from './in-process.js';

const { redis, url, fresh } = sharedRedis('reaper');
const GROUP = 'counters';

async function counted(resultKey: string): Promise<Record<string, string>> {
  return redis.hgetall(resultKey);
}

describe('reclaiming entries of a crashed consumer', () => {
  it('hands the entries of a consumer killed with kill -9 to a live consumer, which counts each reading exactly once', async () => {
    const { keys, prefix } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const resultKey = `${prefix}:result`;
    const { ids, temps } = await addReadings(redis, partition, 400);

    // A consumer reads a batch of 100 and hangs holding it; then it is killed the hard way.
    const holder = startConsumer({ url, prefix, resultKey, consumer: 'holder', stall: true, count: 100 });
    await waitFor('the holder to stall', () => holder.events().some((e) => e.event === 'stalled'));
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ holder: 100 });

    // A live consumer takes everything else; the dead one's 100 stay pending with it.
    const worker = startConsumer({ url, prefix, resultKey, consumer: 'worker' });
    await waitFor('the worker to count the other 300', async () => (await counted(resultKey)).n === '300');
    expect(await pendingByConsumer(redis, partition, GROUP)).toEqual({ holder: 100, worker: 0 });

    // The consumers are processes (one is killed -9); the reaper runs in this process.
    const reaper = runReaperInProcess(redis, keys, {
      holder: 'reclaimer',
      minIdleMs: 1000,
      intervalMs: 200,
      liveWithinMs: 2000,
      leaseTtlMs: 2000,
    });
    await waitFor('all 400 readings counted', async () => (await counted(resultKey)).n === '400', 20_000);

    const result = await counted(resultKey);
    expect(Number(result.sum)).toBeCloseTo(
      temps.reduce((a, b) => a + b, 0),
      6,
    );
    // Each reading exactly once: one field per entry, each counted 1.
    const perEntry = Object.entries(result).filter(([k]) => k.includes('/'));
    expect(perEntry.map(([k]) => k.split('/')[1]).sort()).toEqual([...ids].sort());
    expect(perEntry.every(([, v]) => v === '1')).toBe(true);
    expect(await pendingByConsumer(redis, partition, GROUP)).toMatchObject({ worker: 0 });
    const claimedLog = reaper.events.find((e) => e.msg === 'claimed stale entries');
    expect(claimedLog).toMatchObject({ stream: partition, group: GROUP, consumer: 'worker', count: 100 });
    expect(await reaper.metric('pipe_reaper_entries_reclaimed_total')).toBe(100);
    expect(await reaper.metric('pipe_reaper_entries_dead_lettered_total')).toBe(0);

    worker.child.kill('SIGTERM');
    await reaper.reaper.stop();
    await reaper.running;
    expect(await redis.get(keys.reaperLease)).toBeNull();
  });

  it('dead-letters an entry that crashes its consumer every time after max deliveries, and the pipeline goes on', async () => {
    const { keys, prefix } = fresh();
    const partition = keys.partitionKeyFor(Date.now());
    const resultKey = `${prefix}:result`;
    const POISON_AT = 30;
    const { ids } = await addReadings(redis, partition, 80, (i) =>
      i === POISON_AT ? ['poison', 'yes'] : [],
    );
    const poisonId = ids[POISON_AT]!;
    const [poisonEntry] = await new Stream(redis, partition).range({ start: poisonId, end: poisonId });

    // A supervisor that restarts the crashing consumer under a new name, as an orchestrator would.
    let running = true;
    let restarts = 0;
    let current: ReturnType<typeof startConsumer> | undefined;
    const supervise = (async () => {
      while (running) {
        current = startConsumer({ url, prefix, resultKey, crashOn: 'poison', count: 20 });
        if ((await current.exited).code === 3) restarts++;
      }
    })();
    const reaper = runReaperInProcess(redis, keys, {
      holder: 'reclaimer',
      minIdleMs: 700,
      maxDeliveries: 3,
      intervalMs: 200,
      liveWithinMs: 1000,
      leaseTtlMs: 2000,
    });

    // The nine readings that came after the poison entry in its batch are counted too.
    await waitFor('79 readings counted', async () => (await counted(resultKey)).n === '79', 60_000);
    await waitFor(
      'the poison entry in the dead-letter stream',
      async () => (await redis.xlen(keys.deadLetters)) === 1,
    );

    const [[letterId, fields]] = (await redis.xrange(keys.deadLetters, '-', '+')) as [[string, string[]]];
    const letter = decodeDeadLetter(fields);
    expect(letter.ok).toBe(true);
    if (!letter.ok) return;
    expect(letter.value).toMatchObject({
      stream: partition,
      id: poisonId,
      group: GROUP,
      deliveries: 3,
      reason: 'delivered 3 times without ack',
    });
    expect(letter.value.idle_ms).toBeGreaterThanOrEqual(700);
    expect(letter.value.consumer).toMatch(/^counter-\d+$/);
    expect(Math.abs(letter.value.dead_at - Number(letterId.split('-')[0]))).toBeLessThan(1000);
    const original: Record<string, string> = {};
    for (let i = 0; i < poisonEntry!.fields.length; i += 2)
      original[poisonEntry!.fields[i]!] = poisonEntry!.fields[i + 1]!;
    expect(letter.value.fields).toEqual(original);
    // Never both: the poison entry is no longer pending, and it was never counted.
    expect(await redis.xpending(partition, GROUP, '-', '+', 10)).toEqual([]);
    expect(await redis.hget(resultKey, `${partition}/${poisonId}`)).toBeNull();
    expect(restarts).toBeGreaterThanOrEqual(3);
    await waitFor(
      'the dead letter counted in the metrics',
      async () => (await reaper.metric('pipe_reaper_entries_dead_lettered_total')) === 1,
    );

    const appended = await addReadings(redis, partition, 5);
    await waitFor(
      'readings added after the poison entry counted',
      async () => (await counted(resultKey)).n === '84',
    );
    expect(await redis.hget(resultKey, `${partition}/${appended.ids[4]}`)).toBe('1');

    running = false;
    current?.child.kill('SIGTERM');
    await supervise;
    await reaper.reaper.stop();
  }, 90_000);
});
