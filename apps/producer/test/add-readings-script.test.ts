import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type AddReadings,
  type AddReadingsArgs,
  addReadingsCommand,
  encodeReadings,
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

/** The script's last two arguments for these readings, as the writer encodes them. */
const readings = (...rows: Row[]): [string, Buffer] => {
  const encoded = encodeReadings(
    rows.map(([device, ts, temp_f, humidity]) =>
      humidity === undefined ? { device, ts, temp_f } : { device, ts, temp_f, humidity },
    ),
  );
  return [encoded.readings, encoded.fingerprints];
};

describe('add-readings-2.lua', () => {
  it('applies a batch once: the same batch id again is recognised and not written twice', async () => {
    const { partition, ledger } = keysFor(ts);
    const batch = readings(['a', ts, 1, 50], ['b', ts, 2]);
    const args: AddReadingsArgs = ['batch-1', String(ts + 60_000), '0', ...batch];
    expect(await addReadings(partition, ledger, args)).toEqual({
      applied: true,
      expired: false,
      refused: [],
    });
    expect(await addReadings(partition, ledger, args)).toEqual({
      applied: false,
      expired: false,
      refused: [],
    });
    expect(await redis.xlen(partition)).toBe(2);
    const [first, second] = (await redis.xrange(partition, '-', '+')).map(([, fields]) => fields);
    expect(first).toEqual(['device', 'a', 'ts', String(ts), 'temp_f', '1', 'humidity', '50']);
    expect(second).toEqual(['device', 'b', 'ts', String(ts), 'temp_f', '2']);
  });

  it('sets the expiry of a new partition and its ledger, raises it, and never lowers it', async () => {
    const { partition, ledger } = keysFor(ts);
    await addReadings(partition, ledger, ['b1', String(ts + 60_000), '0', ...readings(['a', ts, 1])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
    expect(await redis.pexpiretime(ledger)).toBe(ts + 60_000);
    await addReadings(partition, ledger, ['b2', String(ts + 30_000), '0', ...readings(['a', ts, 2])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
    await addReadings(partition, ledger, ['b3', String(ts + 90_000), '0', ...readings(['a', ts, 3])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 90_000);
    expect(await redis.pexpiretime(ledger)).toBe(ts + 90_000);
  });

  it('gives an expiry to a partition that somehow had none', async () => {
    const { partition, ledger } = keysFor(ts);
    await redis.xadd(partition, '*', 'temp_f', '1');
    expect(await redis.pexpiretime(partition)).toBe(-1);
    await addReadings(partition, ledger, ['b1', String(ts + 60_000), '0', ...readings(['a', ts, 1])]);
    expect(await redis.pexpiretime(partition)).toBe(ts + 60_000);
  });

  it('with <ts>-* IDs refuses an out-of-order reading by its index and writes the others', async () => {
    const { partition, ledger } = keysFor(ts);
    const outcome = await addReadings(partition, ledger, [
      'b1',
      String(ts + 60_000),
      '1',
      ...readings(['a', ts, 1], ['a', ts - 1, 2], ['a', ts, 3], ['a', ts + 1, 4]),
    ]);
    expect(outcome.applied).toBe(true);
    expect(outcome.refused).toHaveLength(1);
    expect(outcome.refused[0]!.index).toBe(1);
    expect(outcome.refused[0]!.error).toMatch(/equal or smaller than the target stream top item/);
    const ids = (await redis.xrange(partition, '-', '+')).map(([id]) => id);
    expect(ids).toEqual([`${ts}-0`, `${ts}-1`, `${ts + 1}-0`]);
    // The ledger holds the fingerprints of the readings written, not of the one refused.
    expect(await redis.hgetBuffer(ledger, 'b1:readings')).toEqual(
      readings(['a', ts, 1], ['a', ts, 3], ['a', ts + 1, 4])[1],
    );
    // A replay reports the same refusals it recorded the first time.
    const replay = await addReadings(partition, ledger, [
      'b1',
      String(ts + 60_000),
      '1',
      ...readings(['x', ts, 0]),
    ]);
    expect(replay).toEqual({ applied: false, expired: false, refused: outcome.refused });
  });

  it('writes nothing when the batch would expire at once by the clock of Redis (it waited out an outage)', async () => {
    const { partition, ledger } = keysFor(ts);
    const outcome = await addReadings(partition, ledger, [
      'b1',
      String(Date.now() - 1),
      '0',
      ...readings(['a', ts, 1]),
    ]);
    expect(outcome).toEqual({ applied: false, expired: true, refused: [] });
    expect(await redis.exists(partition, ledger)).toBe(0);
  });
});
