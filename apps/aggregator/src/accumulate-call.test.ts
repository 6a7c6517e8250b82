import {
  encodeReading,
  HOUR_MS,
  PipelineKeys,
  type Reading,
  type StreamEntry,
  WindowLayout,
} from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { type AccumulateContext, accumulateCall } from './accumulate-call.js';
import { AggregatorStateKeys } from './state-keys.js';

const DAY = Date.UTC(2026, 2, 14);
const keys = new PipelineKeys('temps');
/** The default layout: 1h alone. */
const HOURS = WindowLayout.parse('1h');
const partition = keys.partitionKeyFor(DAY);

const ctx = (overrides: Partial<AccumulateContext> = {}): AccumulateContext => ({
  keys,
  state: new AggregatorStateKeys(keys),
  group: 'aggregator',
  consumer: 'agg-1',
  now: 1_000,
  stateAfterPartitionMs: 42,
  ...overrides,
});

let seq = 0;
const entry = (fields: string[]): StreamEntry => ({ id: `${DAY}-${seq++}`, fields });
const reading = (r: Reading): StreamEntry => entry(encodeReading(r));

/** The JSON arguments of the call, parsed. */
function layout(args: (string | number | Buffer)[]) {
  return {
    entries: JSON.parse(String(args[4])) as {
      i: string[];
      k: number[];
      x: [number, string, string][];
    },
    hours: JSON.parse(String(args[5])) as unknown[][],
    recount: recountValues(args[6] as Buffer),
  };
}

/** ARGV[7]: each entry's `temp_f ts humidity device` as four doubles, read back as rows. */
function recountValues(values: Buffer): number[][] {
  const rows: number[][] = [];
  for (let at = 0; at < values.length; at += 32)
    rows.push([0, 8, 16, 24].map((offset) => values.readDoubleLE(at + offset)));
  return rows;
}

describe('accumulateCall', () => {
  it('lays out one batch as accumulate-batch-n.lua takes it: partition keys, then one key per hour in order of first reading', () => {
    const entries = [
      reading({ device: 'a', ts: DAY + 2 * HOUR_MS + 5, temp_f: 70.5, humidity: 40 }),
      reading({ device: 'b', ts: DAY + HOUR_MS, temp_f: 60 }),
      reading({ device: 'a', ts: DAY + 2 * HOUR_MS + 9, temp_f: 80.25, humidity: 50 }),
    ];
    const call = accumulateCall({ stream: partition, entries }, ctx(), HOURS);
    expect(call.keys).toEqual([
      partition,
      `{${partition}}:agg`,
      `{${partition}}:outbox`,
      `{${partition}}:open`,
      `{${partition}}:hour:${DAY + 2 * HOUR_MS}`,
      `{${partition}}:hour:${DAY + HOUR_MS}`,
    ]);
    expect(call.args.slice(0, 4)).toEqual(['aggregator', 'agg-1', 1_000, DAY + 2 * HOUR_MS + 9]);
    expect(call.args.slice(7)).toEqual([
      keys.late,
      keys.deadLetters,
      42,
      JSON.stringify([['hour', 'sealed']]),
      '',
      '',
    ]);
    const { entries: e, hours, recount } = layout(call.args);
    // Each entry names its finest window (1-based); each window its hash's KEYS index, KEYS[5] and KEYS[6].
    expect(e).toEqual({ i: entries.map((x) => x.id), k: [1, 2, 1], x: [] });
    // [n, sum, sum of squares, humidity n, humidity sum, min, max, first ts, last ts, devices, hash KEYS]
    expect(hours).toEqual([
      [
        2,
        150.75,
        70.5 ** 2 + 80.25 ** 2,
        2,
        90,
        '70.5',
        '80.25',
        DAY + 2 * HOUR_MS + 5,
        DAY + 2 * HOUR_MS + 9,
        ['a'],
        [5],
      ],
      [1, 60, 3600, 0, 0, '60', '60', DAY + HOUR_MS, DAY + HOUR_MS, ['b'], [6]],
    ]);
    // Each entry's temp_f, ts, humidity (NaN: none) and its device's place in its window's list.
    expect(recount).toEqual([
      [70.5, DAY + 2 * HOUR_MS + 5, 40, 1],
      [60, DAY + HOUR_MS, Number.NaN, 1],
      [80.25, DAY + 2 * HOUR_MS + 9, 50, 1],
    ]);
    expect(call.readings.map((r) => r?.device)).toEqual(['a', 'b', 'a']);
  });

  it('packs each device’s figures (--per-device) as nine doubles per device, in the order of its window’s devices', () => {
    const entries = [
      reading({ device: 'a', ts: DAY + 65_000, temp_f: 70.5, humidity: 40 }),
      reading({ device: 'b', ts: DAY + 5_000, temp_f: 60 }),
      reading({ device: 'a', ts: DAY + 61_000, temp_f: 80.25, humidity: 50 }),
    ];
    const perDevice = WindowLayout.parse('1m,1h').withPerDevice(true);
    const call = accumulateCall({ stream: partition, entries }, ctx(), perDevice);
    const { hours } = layout(call.args);
    // Minute 1 (device a) first, then minute 0 (device b): each names where its devices start.
    expect(hours.map((w) => [w[9], w[11]])).toEqual([
      [['a'], 0],
      [['b'], 72],
    ]);
    const packed = call.args[11] as Buffer;
    const doubles = Array.from({ length: packed.length / 8 }, (_, i) => packed.readDoubleLE(i * 8));
    expect(doubles).toEqual([
      ...[2, 150.75, 70.5 ** 2 + 80.25 ** 2, 70.5, 80.25, DAY + 61_000, DAY + 65_000, 2, 90],
      ...[1, 60, 3600, 60, 60, DAY + 5_000, DAY + 5_000, 0, 0],
    ]);
  });

  it('sends an undecodable entry as a dead letter with its reason and fields, in its place among the others', () => {
    const entries = [
      reading({ device: 'a', ts: DAY + 60_000, temp_f: 50 }),
      entry(['device', 'a', 'ts', String(DAY), 'temp_f', 'warm']),
    ];
    const call = accumulateCall({ stream: partition, entries }, ctx(), HOURS);
    const { entries: e, recount } = layout(call.args);
    expect(e.k).toEqual([1, 0]);
    expect(e.x).toEqual([
      [
        2,
        expect.stringMatching(/^temp_f: not a number/),
        JSON.stringify({ device: 'a', ts: String(DAY), temp_f: 'warm' }),
      ],
    ]);
    expect(recount).toEqual([
      [50, DAY + 60_000, Number.NaN, 1],
      [0, 0, 0, 0],
    ]);
    expect(call.readings[1]).toBeUndefined();
  });

  it('dead-letters a reading whose event time lies outside the partition’s day, so no hour lives in two partitions', () => {
    const ts = DAY + 24 * HOUR_MS;
    const call = accumulateCall(
      { stream: partition, entries: [reading({ device: 'a', ts, temp_f: 50 })] },
      ctx(),
      HOURS,
    );
    const { entries: e, hours } = layout(call.args);
    expect(e.x).toEqual([
      [1, `event time ${new Date(ts).toISOString()} is outside partition ${partition}`, expect.any(String)],
    ]);
    expect(hours).toEqual([]);
    expect(call.keys).toHaveLength(4);
    // Nothing counted: no newest event time to raise.
    expect(call.args[3]).toBe('');
  });

  it('groups readings by their finest window, each naming its hash of every size once', () => {
    const entries = [
      reading({ device: 'a', ts: DAY + 30_000, temp_f: 50 }),
      reading({ device: 'b', ts: DAY + 90_000, temp_f: 52 }),
      reading({ device: 'a', ts: DAY + 45_000, temp_f: 54 }),
    ];
    const call = accumulateCall({ stream: partition, entries }, ctx(), WindowLayout.parse('1m,1h'));
    expect(call.keys.slice(3)).toEqual([
      `{${partition}}:open:1m`,
      `{${partition}}:open`,
      `{${partition}}:win:1m:${DAY}`,
      `{${partition}}:hour:${DAY}`,
      `{${partition}}:win:1m:${DAY + 60_000}`,
    ]);
    const { entries: e, hours } = layout(call.args);
    expect(e.k).toEqual([1, 2, 1]);
    expect(hours.map((w) => [w[0], w[10]])).toEqual([
      [2, [6, 7]],
      [1, [8, 7]],
    ]);
    expect(call.args[10]).toBe(
      JSON.stringify([
        ['window 1m', 'sealed:1m'],
        ['hour', 'sealed'],
      ]),
    );
  });
});
