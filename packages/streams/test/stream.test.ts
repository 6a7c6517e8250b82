import { describe, expect, it } from 'vitest';
import { IdTooSmallError } from '../src/errors.js';
import { compareIds, parseId } from '../src/ids.js';
import { Stream } from '../src/stream.js';
import { fieldsOf, sharedServer } from './helpers.js';

const { redis, key } = sharedServer('stream');

async function filled(name: string, n: number): Promise<{ stream: Stream; ids: string[] }> {
  const stream = new Stream(redis, key(name));
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await stream.add({ message: `message ${i}` }));
  return { stream, ids };
}

describe('Stream (walrus parity)', () => {
  it('add: Redis assigns a <ms>-<seq> ID near now, increasing with each add', async () => {
    const stream = new Stream(redis, key('add'));
    const before = Date.now();
    const first = await stream.add({ message: 'hello, streams' });
    const second = await stream.add(['message', 'message 2']);
    expect(parseId(first).ms).toBeGreaterThanOrEqual(before - 1000);
    expect(parseId(first).ms).toBeLessThanOrEqual(Date.now() + 1000);
    expect(compareIds(second, first)).toBeGreaterThan(0);
    expect(fieldsOf(await stream.get(first))).toEqual({ message: 'hello, streams' });
  });

  it('add with an explicit ID, and IdTooSmallError for an ID at or below the top', async () => {
    const stream = new Stream(redis, key('explicit'));
    expect(await stream.add({ v: 1 }, { id: '1000-0' })).toBe('1000-0');
    expect(await stream.add({ v: 2 }, { id: '1000-*' })).toBe('1000-1');
    const error = await stream.add({ v: 3 }, { id: '999-0' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdTooSmallError);
    expect((error as IdTooSmallError).code).toBe('ID_TOO_SMALL');
    expect(await stream.length()).toBe(2);
  });

  it('add with exact and approximate MAXLEN, and with MINID', async () => {
    const exact = new Stream(redis, key('maxlen-exact'));
    for (let i = 1; i <= 20; i++) await exact.add({ i }, { id: `${i}-0`, trim: { maxlen: 5 } });
    expect((await exact.range()).map((e) => e.id)).toEqual(['16-0', '17-0', '18-0', '19-0', '20-0']);

    const approximate = new Stream(redis, key('maxlen-approx'));
    for (let i = 1; i <= 300; i++)
      await approximate.add({ i }, { id: `${i}-0`, trim: { maxlen: 10, approximate: true } });
    const length = await approximate.length();
    // Approximate trimming only drops whole radix nodes (100 entries by default): it keeps at least 10.
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(300);

    const minid = new Stream(redis, key('minid'));
    for (let i = 1; i <= 10; i++) await minid.add({ i }, { id: `${i}-0`, trim: { minid: '7-0' } });
    expect((await minid.range()).map((e) => e.id)).toEqual(['7-0', '8-0', '9-0', '10-0']);
  });

  it('add with noMkStream does not create a missing stream', async () => {
    const stream = new Stream(redis, key('nomk'));
    expect(await stream.add({ v: 1 }, { noMkStream: true })).toBeNull();
    expect(await redis.exists(stream.key)).toBe(0);
  });

  it('addMany pipelines entries in chunks and reports refused entries in their slots', async () => {
    const stream = new Stream(redis, key('many'));
    const entries = Array.from({ length: 25 }, (_, i) => ({ fields: ['i', String(i)], id: `${i + 10}-0` }));
    entries[7] = { fields: ['i', 'stale'], id: '5-0' };
    const ids = await stream.addMany(entries, { chunk: 4 });
    expect(ids).toHaveLength(25);
    expect(ids[0]).toBe('10-0');
    expect(ids[7]).toBeInstanceOf(IdTooSmallError);
    expect(ids[24]).toBe('34-0');
    expect(await stream.length()).toBe(24);
    const auto = await stream.addMany([{ fields: ['a', '1'] }, { fields: ['a', '2'] }], {
      trim: { maxlen: 3 },
    });
    expect(auto.every((id) => typeof id === 'string')).toBe(true);
    expect(await stream.length()).toBe(3);
  });

  it('get: one entry by ID, undefined when absent', async () => {
    const { stream, ids } = await filled('get', 3);
    expect(fieldsOf(await stream.get(ids[1]!))).toEqual({ message: 'message 1' });
    expect(await stream.get('1-0')).toBeUndefined();
  });

  it('range: inclusive bounds and a count (walrus slices stream[id:] and stream[id::2])', async () => {
    const { stream, ids } = await filled('range', 3);
    expect((await stream.range({ start: ids[1] })).map((e) => e.id)).toEqual([ids[1], ids[2]]);
    expect((await stream.range({ start: ids[0], count: 2 })).map((e) => e.id)).toEqual([ids[0], ids[1]]);
    expect((await stream.range({ start: ids[0], end: ids[1] })).map((e) => e.id)).toEqual([ids[0], ids[1]]);
    expect(await stream.range({ start: `(${ids[2]}` })).toEqual([]);
  });

  it('revrange: newest first with a count', async () => {
    const { stream, ids } = await filled('revrange', 4);
    expect((await stream.revrange({ count: 2 })).map((e) => e.id)).toEqual([ids[3], ids[2]]);
    expect((await stream.revrange({ start: ids[2], end: ids[1] })).map((e) => e.id)).toEqual([
      ids[2],
      ids[1],
    ]);
  });

  it('async iteration walks every entry in order, across pages', async () => {
    const stream = new Stream(redis, key('iterate'));
    await stream.addMany(
      Array.from({ length: 25 }, (_, i) => ({ fields: ['i', String(i)], id: `${i + 1}-0` })),
    );
    const seen: string[] = [];
    for await (const entry of stream) seen.push(fieldsOf(entry).i!);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    const paged: string[] = [];
    for await (const entry of stream.entries({ pageSize: 7, start: '5-0' })) paged.push(entry.id);
    expect(paged).toEqual(Array.from({ length: 21 }, (_, i) => `${i + 5}-0`));
    const exactPages: string[] = [];
    for await (const entry of stream.entries({ pageSize: 5 })) exactPages.push(entry.id);
    expect(exactPages).toHaveLength(25);
  });

  it('delete by ID and length (walrus del stream[id] and len(stream))', async () => {
    const { stream, ids } = await filled('delete', 3);
    const extra = await stream.add({ message: 'delete me' });
    expect(await stream.length()).toBe(4);
    expect(await stream.delete(extra)).toBe(1);
    expect(await stream.delete(extra)).toBe(0);
    expect(await stream.delete()).toBe(0);
    expect(await stream.length()).toBe(3);
    expect((await stream.range()).map((e) => e.id)).toEqual(ids);
    expect(await new Stream(redis, key('never')).length()).toBe(0);
  });

  it('trim: approximate keeps at least the count, exact keeps exactly it (walrus trim(10) / approximate=False)', async () => {
    const stream = new Stream(redis, key('trim'));
    await stream.addMany(Array.from({ length: 1000 }, (_, i) => ({ fields: ['data', `message-${i}`] })));
    const removedApprox = await stream.trim({ maxlen: 10, approximate: true });
    const afterApprox = await stream.length();
    expect(removedApprox).toBe(1000 - afterApprox);
    expect(afterApprox).toBeGreaterThanOrEqual(10);
    expect(afterApprox).toBeLessThan(1000);
    expect(await stream.trim({ maxlen: 10 })).toBe(afterApprox - 10);
    expect(await stream.length()).toBe(10);
    expect(fieldsOf((await stream.range({ count: 1 }))[0])).toEqual({ data: 'message-990' });
    const [, , third] = (await stream.range()).map((e) => e.id);
    expect(await stream.trim({ minid: third! })).toBe(2);
  });

  it('read: everything by default, after an exclusive last ID, with a count', async () => {
    const { stream, ids } = await filled('read', 3);
    expect((await stream.read()).map((e) => e.id)).toEqual(ids);
    expect((await stream.read({ lastId: ids[1] })).map((e) => e.id)).toEqual([ids[2]]);
    expect(await stream.read({ lastId: ids[2] })).toEqual([]);
    expect((await stream.read({ count: 2 })).map((e) => e.id)).toEqual([ids[0], ids[1]]);
  });

  it('read with block and $: empty after the timeout, or the entry added meanwhile', async () => {
    const { stream } = await filled('block', 1);
    const started = Date.now();
    expect(await stream.read({ lastId: '$', block: 200 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);

    const reader = new Stream(redis.duplicate(), stream.key);
    try {
      const waiting = reader.read({ lastId: '$', block: 5000 });
      await new Promise((r) => setTimeout(r, 100));
      const id = await stream.add({ message: 'late arrival' });
      const got = await waiting;
      expect(got.map((e) => e.id)).toEqual([id]);
    } finally {
      reader.redis.disconnect();
    }
  });

  it('info: length, first and last entries, last generated ID and Redis 7 counters', async () => {
    const { stream, ids } = await filled('info', 3);
    await stream.delete(ids[1]!);
    const info = await stream.info();
    expect(info.length).toBe(2);
    expect(info.groups).toBe(0);
    expect(info.lastGeneratedId).toBe(ids[2]);
    expect(info.maxDeletedEntryId).toBe(ids[1]);
    expect(info.entriesAdded).toBe(3);
    expect(info.recordedFirstEntryId).toBe(ids[0]);
    expect(info.firstEntry?.id).toBe(ids[0]);
    expect(fieldsOf(info.lastEntry ?? undefined)).toEqual({ message: 'message 2' });
    expect(info.radixTreeKeys).toBeGreaterThan(0);
  });

  it('setId moves the last ID forward; later auto IDs follow it', async () => {
    const { stream, ids } = await filled('setid', 1);
    const ahead = `${parseId(ids[0]!).ms + 86_400_000}-5`;
    await stream.setId(ahead);
    expect((await stream.info()).lastGeneratedId).toBe(ahead);
    expect(compareIds(await stream.add({ after: 'setid' }), ahead)).toBeGreaterThan(0);
    await expect(stream.setId('1-0')).rejects.toThrow(/smaller/);
  });

  it('expire, expireAt and ttl', async () => {
    const { stream } = await filled('expire', 1);
    expect(await stream.ttl()).toBe(-1);
    expect(await stream.expire(100)).toBe(true);
    const ttl = await stream.ttl();
    expect(ttl).toBeGreaterThan(95_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
    expect(await stream.expireAt(Date.now() - 1)).toBe(true);
    expect(await stream.ttl()).toBe(-2);
    expect(await stream.expire(10)).toBe(false);
  });
});
