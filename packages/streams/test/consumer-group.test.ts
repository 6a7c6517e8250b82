import { sleep } from '@pipe/testkit';
import { describe, expect, it } from 'vitest';
import { ConsumerGroup, groupsOf } from '../src/consumer-group.js';
import { NoGroupError } from '../src/errors.js';
import { Stream } from '../src/stream.js';
import { fieldsOf, sharedServer } from './helpers.js';

const { redis, key } = sharedServer('group');

const idsOf = (entries: { id: string }[] | undefined) => (entries ?? []).map((e) => e.id);

/** The article's setup: streams a, b, c each with one old entry, and a group that starts at `$`. */
async function abc(name: string) {
  const streams = ['a', 'b', 'c'].map((s) => key(`${name}-${s}`));
  for (const s of streams) await redis.xadd(s, '*', 'data', '');
  const cg = new ConsumerGroup(redis, `${name}-cg`, streams);
  await cg.create();
  await cg.setId('$');
  const [a, b, c] = streams.map((s) => new Stream(redis, s)) as [Stream, Stream, Stream];
  return { cg, streams, a, b, c };
}

describe('ConsumerGroup (walrus parity)', () => {
  it('create makes the group on every stream, with MKSTREAM by default', async () => {
    const streams = [key('mk-a'), key('mk-b')];
    const cg = new ConsumerGroup(redis, 'mk', streams);
    expect(await cg.create()).toEqual({ [streams[0]!]: true, [streams[1]!]: true });
    for (const s of streams) expect((await groupsOf(redis, s)).map((g) => g.name)).toEqual(['mk']);
  });

  it('create is idempotent: BUSYGROUP counts as success and leaves the group as it was', async () => {
    const stream = key('busy');
    const cg = new ConsumerGroup(redis, 'busy', [stream]);
    expect(await cg.create()).toEqual({ [stream]: true });
    const id = await new Stream(redis, stream).add({ v: 1 });
    await cg.read();
    expect(await cg.create()).toEqual({ [stream]: false });
    expect(await cg.create({ id: '$' })).toEqual({ [stream]: false });
    const info = await cg.info(stream);
    expect(info?.lastDeliveredId).toBe(id);
    expect(info?.pending).toBe(1);
  });

  it('create without MKSTREAM refuses a missing stream', async () => {
    const cg = new ConsumerGroup(redis, 'nomk', [key('nomk')]);
    await expect(cg.create({ mkstream: false })).rejects.toThrow(/requires the key to exist/);
  });

  it('read after setId($) returns nothing; then count=1 reads one entry from each stream', async () => {
    const { cg, streams, a, b, c } = await abc('read');
    expect((await cg.read()).size).toBe(0);
    const newA = await a.add({ message: 'new a' });
    const newB = await b.add({ message: 'new for b' });
    const cIds: string[] = [];
    for (let i = 0; i < 10; i++) cIds.push(await c.add({ message: `c-${i}` }));

    const first = await cg.read({ count: 1 });
    expect([...first.keys()]).toEqual(streams);
    expect(idsOf(first.get(streams[0]!))).toEqual([newA]);
    expect(idsOf(first.get(streams[1]!))).toEqual([newB]);
    expect(fieldsOf(first.get(streams[2]!)?.[0])).toEqual({ message: 'c-0' });

    const second = await cg.read({ count: 1 });
    expect([...second.keys()]).toEqual([streams[2]]);
    expect(idsOf(second.get(streams[2]!))).toEqual([cIds[1]]);
  });

  it('a second consumer by name picks up where the group is; pending shows who holds what', async () => {
    const { cg, streams, c } = await abc('second');
    const cIds: string[] = [];
    for (let i = 0; i < 3; i++) cIds.push(await c.add({ message: `c-${i}` }));
    await cg.read({ count: 1 });
    await cg.read({ count: 1 });
    expect(cg.consumerName).toBe('second-cg.c1');
    const cg2 = cg.consumer('second-cg.c2');
    expect(cg2.name).toBe(cg.name);
    expect(cg2.streams).toEqual(cg.streams);
    const read = await cg2.read({ count: 1 });
    expect(idsOf(read.get(streams[2]!))).toEqual([cIds[2]]);

    const pending = await cg.pending(streams[2]!);
    expect(pending.map((p) => [p.id, p.consumer, p.deliveries])).toEqual([
      [cIds[0], 'second-cg.c1', 1],
      [cIds[1], 'second-cg.c1', 1],
      [cIds[2], 'second-cg.c2', 1],
    ]);
    expect(pending.every((p) => p.idleMs >= 0)).toBe(true);
    expect(await cg.pending(streams[2]!, { consumer: 'second-cg.c2' })).toHaveLength(1);
    expect(await cg.pending(streams[2]!, { count: 1 })).toHaveLength(1);

    const summary = await cg.pendingSummary(streams[2]!);
    expect(summary).toEqual({
      count: 3,
      smallestId: cIds[0],
      largestId: cIds[2],
      consumers: [
        { name: 'second-cg.c1', pending: 2 },
        { name: 'second-cg.c2', pending: 1 },
      ],
    });
    const empty = await cg.pendingSummary(streams[0]!);
    expect(empty).toEqual({ count: 0, smallestId: null, largestId: null, consumers: [] });
  });

  it('pending filters by idle time', async () => {
    const { cg, streams, a } = await abc('idle');
    const old = await a.add({ n: 1 });
    await cg.read();
    await sleep(600);
    const fresh = await a.add({ n: 2 });
    await cg.read();
    // Generous margins: the fresh entry would have to wait 400 ms between read and check to count as idle.
    expect(idsOf(await cg.pending(streams[0]!, { idle: 400 }))).toEqual([old]);
    expect(idsOf(await cg.pending(streams[0]!))).toEqual([old, fresh]);
  });

  it('ack removes entries from the pending list and returns how many it acknowledged', async () => {
    const { cg, streams, a } = await abc('ack');
    const id = await a.add({ message: 'new a' });
    await cg.read();
    const [pending] = await cg.pending(streams[0]!);
    expect(pending?.id).toBe(id);
    expect(await cg.ack(streams[0]!, pending!.id)).toBe(1);
    expect(await cg.ack(streams[0]!, pending!.id)).toBe(0);
    expect(await cg.ack(streams[0]!)).toBe(0);
    expect(await cg.pending(streams[0]!)).toEqual([]);
  });

  it('claim transfers ownership, returns the entries and resets their idle time', async () => {
    const { cg, streams, c } = await abc('claim');
    for (let i = 0; i < 3; i++) await c.add({ message: `c-${i}` });
    await cg.read({ count: 2 });
    const cg2 = cg.consumer('claim-cg.c2');
    await cg2.read({ count: 1 });
    await sleep(300);
    const [mc1] = await cg.pending(streams[2]!);
    const claimed = await cg2.claim(streams[2]!, [mc1!.id]);
    expect(claimed.map((e) => [e.id, fieldsOf(e)])).toEqual([[mc1!.id, { message: 'c-0' }]]);
    const after = await cg.pending(streams[2]!);
    expect(after[0]?.consumer).toBe('claim-cg.c2');
    expect(after[0]!.idleMs).toBeLessThan(mc1!.idleMs);
    expect(after[1]?.consumer).toBe('claim-cg.c1');
    // min idle: a just-claimed entry is too fresh to claim back.
    expect(await cg.claim(streams[2]!, [mc1!.id], { minIdle: 10_000 })).toEqual([]);
    expect(await cg.claim(streams[2]!, [])).toEqual([]);
  });

  it('autoclaim moves idle entries page by page and reports entries deleted from the stream', async () => {
    const { cg, streams, c } = await abc('autoclaim');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await c.add({ message: `c-${i}` }));
    await cg.read();
    await c.delete(ids[1]!, ids[3]!);
    await sleep(30);
    const taker = cg.consumer('autoclaim-cg.taker');
    // Redis reports deleted entries whatever their idle time, and drops them from the pending list.
    expect(await taker.autoclaim(streams[2]!, { minIdle: 60_000 })).toEqual({
      next: '0-0',
      entries: [],
      deleted: [ids[1], ids[3]],
    });
    expect(idsOf(await cg.pending(streams[2]!))).toEqual([ids[0], ids[2], ids[4]]);

    const page = await taker.autoclaim(streams[2]!, { minIdle: 10, count: 10 });
    expect(page.next).toBe('0-0');
    expect(idsOf(page.entries)).toEqual([ids[0], ids[2], ids[4]]);
    expect(page.deleted).toEqual([]);
    expect((await cg.pending(streams[2]!)).every((p) => p.consumer === 'autoclaim-cg.taker')).toBe(true);

    const paged = await cg.autoclaim(streams[2]!, { count: 2 });
    expect(idsOf(paged.entries)).toEqual([ids[0], ids[2]]);
    expect(paged.next).toBe(ids[4]);
    const rest = await cg.autoclaim(streams[2]!, { start: paged.next, count: 2 });
    expect(idsOf(rest.entries)).toEqual([ids[4]]);
    expect(rest.next).toBe('0-0');
  });

  it('autoclaim with justId returns IDs, leaves delivery counts alone and reports deleted entries', async () => {
    const { cg, streams, c } = await abc('justid');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await c.add({ message: `c-${i}` }));
    await cg.read();
    await c.delete(ids[2]!);
    await sleep(30);
    const taker = cg.consumer('justid-cg.taker');

    const page = await taker.autoclaim(streams[2]!, { minIdle: 10, count: 2, justId: true });
    expect(page).toEqual({ next: ids[2], ids: [ids[0], ids[1]], deleted: [] });
    const rest = await taker.autoclaim(streams[2]!, { minIdle: 10, start: page.next, justId: true });
    expect(rest).toEqual({ next: '0-0', ids: [ids[3]], deleted: [ids[2]] });
    // Claimed, but still counted as delivered once: the taker's own read is the delivery that counts.
    expect((await cg.pending(streams[2]!)).map((p) => [p.id, p.consumer, p.deliveries])).toEqual(
      [ids[0], ids[1], ids[3]].map((id) => [id, 'justid-cg.taker', 1]),
    );
    // Without justId the same claim counts a delivery.
    await sleep(30);
    await cg.autoclaim(streams[2]!, { minIdle: 10 });
    expect((await cg.pending(streams[2]!)).map((p) => p.deliveries)).toEqual([2, 2, 2]);
  });

  it('setId and reset move where the next read starts', async () => {
    const { cg, streams, a, b } = await abc('setid');
    const a1 = await a.add({ n: 1 });
    const a2 = await a.add({ n: 2 });
    await b.add({ n: 1 });
    await cg.setId(a1, streams[0]);
    const read = await cg.read();
    expect(idsOf(read.get(streams[0]!))).toEqual([a2]);
    expect(read.get(streams[1]!)).toHaveLength(1);

    await cg.reset();
    const again = await cg.read();
    expect(again.get(streams[0]!)).toHaveLength(3);
    expect(again.get(streams[1]!)).toHaveLength(2);
    expect(again.get(streams[2]!)).toHaveLength(1);
  });

  it('read with id 0 re-reads this consumer’s own pending entries, not others’', async () => {
    const { cg, streams, a } = await abc('own');
    const mine = await a.add({ n: 1 });
    await cg.read({ count: 1 });
    const theirs = await a.add({ n: 2 });
    await cg.consumer('own-cg.c2').read({ count: 1 });
    const own = await cg.read({ id: '0' });
    expect(idsOf(own.get(streams[0]!))).toEqual([mine]);
    expect(own.get(streams[1]!)).toEqual([]);
    const [row] = await cg.pending(streams[0]!, { consumer: 'own-cg.c1' });
    expect(row?.deliveries).toBe(2);
    expect(idsOf((await cg.consumer('own-cg.c2').read({ id: '0' })).get(streams[0]!))).toEqual([theirs]);
  });

  it('readOwnPendingQuietly re-reads this consumer’s own pending entries after an ID without counting a delivery', async () => {
    const { cg, streams, a } = await abc('quiet');
    const [first, second, gone] = [await a.add({ n: 1 }), await a.add({ n: 2 }), await a.add({ n: 3 })];
    await cg.read({ count: 3 });
    const theirs = await a.add({ n: 4 });
    await cg.consumer('quiet-cg.c2').read({ count: 1 });
    await a.delete(gone);
    const stream = streams[0]!;
    const all = await cg.readOwnPendingQuietly(stream);
    expect(idsOf(all)).toEqual([first, second, gone]);
    expect(all[0]?.fields).toEqual(['n', '1']);
    // A pending entry deleted from the stream comes back without fields, as XREADGROUP returns it.
    expect(all[2]?.fields).toEqual([]);
    expect(idsOf(await cg.readOwnPendingQuietly(stream, { after: first, count: 1 }))).toEqual([second]);
    expect(await cg.readOwnPendingQuietly(stream, { after: gone })).toEqual([]);
    expect((await cg.pending(stream)).map((p) => [p.id, p.deliveries])).toEqual([
      [first, 1],
      [second, 1],
      [gone, 1],
      [theirs, 1],
    ]);
  });

  it('read with noAck leaves nothing pending', async () => {
    const { cg, streams, a } = await abc('noack');
    await a.add({ n: 1 });
    expect((await cg.read({ noAck: true })).get(streams[0]!)).toHaveLength(1);
    expect(await cg.pending(streams[0]!)).toEqual([]);
  });

  it('read blocks until an entry arrives on any of the streams', async () => {
    const { streams, c } = await abc('block');
    const blocking = redis.duplicate();
    try {
      const cg = new ConsumerGroup(blocking, 'block-cg', streams);
      const started = Date.now();
      expect((await cg.read({ block: 150 })).size).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(130);
      const waiting = cg.read({ block: 5000 });
      await sleep(50);
      const id = await c.add({ message: 'wake up' });
      const read = await waiting;
      expect([...read.keys()]).toEqual([streams[2]]);
      expect(idsOf(read.get(streams[2]!))).toEqual([id]);
    } finally {
      blocking.disconnect();
    }
  });

  it('read throws NoGroupError when the group does not exist', async () => {
    const stream = key('nogroup');
    await redis.xadd(stream, '*', 'v', '1');
    const error = await new ConsumerGroup(redis, 'missing', [stream]).read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoGroupError);
    expect((error as NoGroupError).code).toBe('NO_GROUP');
  });

  it('createConsumer registers a consumer without reading; deleteConsumer returns its pending count', async () => {
    const { cg, streams, a } = await abc('consumers');
    const idle = cg.consumer('consumers-cg.idle');
    expect(await idle.createConsumer(streams[0]!)).toBe(true);
    expect(await idle.createConsumer(streams[0]!)).toBe(false);
    await a.add({ n: 1 });
    await a.add({ n: 2 });
    await cg.read();
    const consumers = await cg.consumers(streams[0]!);
    expect(consumers.map((c) => [c.name, c.pending])).toEqual([
      ['consumers-cg.c1', 2],
      ['consumers-cg.idle', 0],
    ]);
    expect(consumers.every((c) => Number.isFinite(c.idleMs) && c.idleMs >= 0)).toBe(true);
    expect(await cg.deleteConsumer(streams[0]!)).toBe(2);
    expect(await cg.deleteConsumer(streams[0]!, 'consumers-cg.idle')).toBe(0);
    expect(await cg.consumers(streams[0]!)).toEqual([]);
    expect(await cg.pending(streams[0]!)).toEqual([]);
  });

  it('destroy removes the group from every stream and leaves the entries', async () => {
    const { cg, streams, c } = await abc('destroy');
    for (let i = 0; i < 10; i++) await c.add({ message: `c-${i}` });
    expect(await cg.destroy()).toBe(3);
    expect(await cg.destroy()).toBe(0);
    expect(await c.length()).toBe(11);
    for (const s of streams) expect(await groupsOf(redis, s)).toEqual([]);
  });

  it('info reports entries-read and lag, and a null lag once an entry inside the group’s range is deleted', async () => {
    const stream = key('lag');
    const s = new Stream(redis, stream);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await s.add({ i }));
    const cg = new ConsumerGroup(redis, 'lag', [stream]);
    await cg.create();
    expect(await cg.info(stream)).toEqual({
      name: 'lag',
      consumers: 0,
      pending: 0,
      lastDeliveredId: '0-0',
      entriesRead: null,
      lag: 5,
    });
    await cg.read({ count: 2 });
    expect(await cg.info(stream)).toMatchObject({
      consumers: 1,
      pending: 2,
      lastDeliveredId: ids[1],
      entriesRead: 2,
      lag: 3,
    });
    // An entry deleted between the group's position and the stream's end makes the lag unknowable.
    await s.delete(ids[3]!);
    expect((await cg.info(stream))?.lag).toBeNull();
    await cg.read();
    const caughtUp = await cg.info(stream);
    expect(caughtUp?.lag).toBe(0);
    expect(caughtUp?.lastDeliveredId).toBe(ids[4]);
    expect(await new ConsumerGroup(redis, 'other', [stream]).info(stream)).toBeUndefined();
    expect(await groupsOf(redis, key('no-such-stream'))).toEqual([]);
  });

  it('forStream narrows the group to one of its streams, as the same consumer', async () => {
    const { cg, streams, a, b } = await abc('narrow');
    await a.add({ n: 1 });
    const onB = await b.add({ n: 1 });
    const only = cg.forStream(streams[1]!);
    expect(only).toBeInstanceOf(ConsumerGroup);
    expect(only.consumerName).toBe(cg.consumerName);
    const read = await only.read();
    expect([...read.keys()]).toEqual([streams[1]]);
    expect(idsOf(read.get(streams[1]!))).toEqual([onB]);
    expect((await cg.read()).get(streams[0]!)).toHaveLength(1);
  });
});
