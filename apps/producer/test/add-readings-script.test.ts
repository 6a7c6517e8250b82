import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type AddReadings,
  addReadingsCommand,
  encodeReadings,
  type LedgerBatch,
} from '../src/add-readings-script.js';

const redisUrl = inject('redisUrl');
let redis: Redis;
let addReadings: AddReadings;

beforeAll(() => {
  redis = new Redis(redisUrl);
  addReadings = addReadingsCommand(redis);
});
afterAll(() => redis.disconnect());

function keysFor(ts: number) {
  const keys = new PipelineKeys(randomPrefix('producer'));
  const partition = keys.partitionKeyFor(ts);
  return { partition, ledger: keys.companionKey(partition, 'batches') };
}

const ts = Date.now();
type Row = [device: string, ts: number, temp_f: number, humidity?: number];

/** The encoded readings of rows, as the writer encodes them. */
const readings = (...rows: Row[]) =>
  encodeReadings(
    rows.map(([device, ts, temp_f, humidity]) =>
      humidity === undefined ? { device, ts, temp_f } : { device, ts, temp_f, humidity },
    ),
  );

/** A batch of these rows under an id, expiring at expireAt. */
const batch = (id: string, expireAt: number, ...rows: Row[]): LedgerBatch => ({
  id,
  expireAt,
  ...readings(...rows),
});

describe('add-readings-2.lua', () => {
  const written = { applied: true, expired: false, refused: [] };
  const recognised = { applied: false, expired: false, refused: [] };

  it('applies a batch once: the same batch id again is recognised and not written twice', async () => {
    const { partition, ledger } = keysFor(ts);
    const b1 = batch('batch-1', ts + 60_000, ['a', ts, 1, 50], ['b', ts, 2]);
    expect(await addReadings(partition, ledger, false, [b1])).toEqual([written]);
    expect(await addReadings(partition, ledger, false, [b1])).toEqual([recognised]);
    expect(await redis.xlen(partition)).toBe(2);
    const [first, second] = (await redis.xrange(partition, '-', '+')).map(([, fields]) => fields);
    expect(first).toEqual(['device', 'a', 'ts', String(ts), 'temp_f', '1', 'humidity', '50']);
    expect(second).toEqual(['device', 'b', 'ts', String(ts), 'temp_f', '2']);
  });

  it('writes several batches in one call, each with its own ledger entry: one written before is recognised alone', async () => {
    const { partition, ledger } = keysFor(ts);
    const b1 = batch('m1', ts + 60_000, ['a', ts, 1]);
    const b2 = batch('m2', ts + 90_000, ['b', ts, 2], ['c', ts, 3]);
    const b3 = batch('m3', ts + 30_000, ['d', ts, 4]);
    expect(await addReadings(partition, ledger, false, [b2])).toEqual([written]);
    expect(await addReadings(partition, ledger, false, [b1, b2, b3])).toEqual([written, recognised, written]);
    expect((await redis.xrange(partition, '-', '+')).map(([, fields]) => fields[1])).toEqual([
      'b',
      'c',
      'a',
      'd',
    ]);
    expect((await redis.hkeys(ledger)).sort()).toEqual(
      ['m1', 'm1:readings', 'm2', 'm2:readings', 'm3', 'm3:readings'].sort(),
    );
    expect(await redis.hgetBuffer(ledger, 'm1:readings')).toEqual(b1.fingerprints);
    // Pushed to the latest expiry among them.
    expect(await redis.pexpiretime(partition)).toBe(ts + 90_000);
  });

  it('refuses an expired batch among others and writes the rest', async () => {
    const { partition, ledger } = keysFor(ts);
    const expired = batch('old', Date.now() - 1, ['a', ts, 1]);
    const fresh = batch('new', ts + 60_000, ['b', ts, 2]);
    expect(await addReadings(partition, ledger, false, [expired, fresh])).toEqual([
      { applied: false, expired: true, refused: [] },
      written,
    ]);
    expect((await redis.xrange(partition, '-', '+')).map(([, fields]) => fields[1])).toEqual(['b']);
    expect(await redis.hexists(ledger, 'old')).toBe(0);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
  });

  it('sets the expiry of a new partition and its ledger, raises it, and never lowers it', async () => {
    const { partition, ledger } = keysFor(ts);
    await addReadings(partition, ledger, false, [batch('b1', ts + 60_000, ['a', ts, 1])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
    expect(await redis.pexpiretime(ledger)).toBe(ts + 60_000);
    await addReadings(partition, ledger, false, [batch('b2', ts + 30_000, ['a', ts, 2])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
    await addReadings(partition, ledger, false, [batch('b3', ts + 90_000, ['a', ts, 3])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 90_000);
    expect(await redis.pexpiretime(ledger)).toBe(ts + 90_000);
  });

  it('gives an expiry to a partition that somehow had none', async () => {
    const { partition, ledger } = keysFor(ts);
    await redis.xadd(partition, '*', 'temp_f', '1');
    expect(await redis.pexpiretime(partition)).toBe(-1);
    await addReadings(partition, ledger, false, [batch('b1', ts + 60_000, ['a', ts, 1])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
  });

  it('with <ts>-* IDs refuses an out-of-order reading by its index and writes the others', async () => {
    const { partition, ledger } = keysFor(ts);
    const [outcome] = await addReadings(partition, ledger, true, [
      batch('b1', ts + 60_000, ['a', ts, 1], ['a', ts - 1, 2], ['a', ts, 3], ['a', ts + 1, 4]),
    ]);
    expect(outcome!.applied).toBe(true);
    expect(outcome!.refused).toHaveLength(1);
    expect(outcome!.refused[0]!.index).toBe(1);
    expect(outcome!.refused[0]!.error).toMatch(/equal or smaller than the target stream top item/);
    const ids = (await redis.xrange(partition, '-', '+')).map(([id]) => id);
    expect(ids).toEqual([`${ts}-0`, `${ts}-1`, `${ts + 1}-0`]);
    // The ledger holds the fingerprints of the readings written, not of the one refused.
    expect(await redis.hgetBuffer(ledger, 'b1:readings')).toEqual(
      readings(['a', ts, 1], ['a', ts, 3], ['a', ts + 1, 4]).fingerprints,
    );
    // A replay reports the same refusals it recorded the first time.
    const replay = await addReadings(partition, ledger, true, [batch('b1', ts + 60_000, ['x', ts, 0])]);
    expect(replay).toEqual([{ applied: false, expired: false, refused: outcome!.refused }]);
  });

  it('writes nothing when the batch would expire at once by the clock of Redis (it waited out an outage)', async () => {
    const { partition, ledger } = keysFor(ts);
    const outcome = await addReadings(partition, ledger, false, [batch('b1', Date.now() - 1, ['a', ts, 1])]);
    expect(outcome).toEqual([{ applied: false, expired: true, refused: [] }]);
    expect(await redis.exists(partition, ledger)).toBe(0);
  });
});
