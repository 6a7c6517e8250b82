import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionEntries, summaryOf } from '@pipe/fixtures';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Flags, runInProcess } from './in-process.js';

const redisUrl = inject('redisUrl');
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = new Redis(redisUrl);
  dir = await mkdtemp(join(tmpdir(), 'producer-ingest-'));
});
afterAll(() => redis.disconnect());

const now = Date.now() - 60_000;
const iso = new Date(now).toISOString();
const old = now - 3 * 86_400_000;

/** One bad line of every kind, each with the reason the producer must give; good lines around them. */
const NDJSON_LINES: [string, RegExp | null][] = [
  [JSON.stringify({ device: 'sensor-001', ts: now, temp_f: 70.5, humidity: 41 }), null],
  [JSON.stringify({ device: 'sensor-002', ts: iso, temp_f: '68' }), null],
  ['{"device":"sensor-003","ts":', /not JSON/],
  ['', null],
  ['"just a string"', /not a JSON object/],
  [JSON.stringify({ ts: now, temp_f: 1 }), /device: missing/],
  [JSON.stringify({ device: 'sensor-004', temp_f: 1 }), /ts: missing/],
  [JSON.stringify({ device: 'sensor-004', ts: now }), /temp_f: missing/],
  [JSON.stringify({ device: 'sensor-004', ts: now, temp_f: 'warm' }), /temp_f: not a number/],
  [JSON.stringify({ device: 'sensor-004', ts: now, temp_f: '1e999' }), /temp_f: not finite/],
  [JSON.stringify({ device: 'sensor-004', ts: now, temp_f: 1, humidity: 'NaN' }), /humidity: not a number/],
  [JSON.stringify({ device: 'sensor-004', ts: now, temp_f: 1, humidity: 120 }), /humidity: out of range/],
  [JSON.stringify({ device: 'no spaces allowed', ts: now, temp_f: 1 }), /device: must be/],
  [
    JSON.stringify({ device: 'sensor-004', ts: 'last tuesday', temp_f: 1 }),
    /ts: not epoch milliseconds or ISO-8601/,
  ],
  [
    JSON.stringify({ device: 'sensor-004', ts: '2026-01-01T00:00:00', temp_f: 1 }),
    /ts: ISO-8601 time without a zone/,
  ],
  [JSON.stringify({ device: 'sensor-004', ts: old, temp_f: 1 }), /ts: .*older than the retention/],
  [JSON.stringify({ device: 'sensor-004', ts: now * 1000, temp_f: 1 }), /ts: .*more than 1d in the future/],
  [JSON.stringify({ device: 'sensor-005', ts: now + 1, temp_f: -3.25 }), null],
];

const CSV_LINES: [string, RegExp | null][] = [
  ['device,ts,temp_f,humidity', null],
  [`sensor-001,${now},70.5,41`, null],
  [`"sensor-002",${iso},68,`, null],
  [`sensor-003,${now},71`, /expected 4 columns, found 3/],
  [`"sensor-003,${now},71,1`, /unterminated quoted cell/],
  [`,${now},71,1`, /device: missing/],
  ['sensor-004,,71,1', /ts: missing/],
  [`sensor-004,${now},,1`, /temp_f: missing/],
  [`sensor-004,${now},hot,1`, /temp_f: not a number/],
  [`sensor-004,${now},1e400,1`, /temp_f: not finite/],
  [`sensor-004,${now},1,-1`, /humidity: out of range/],
  [`bad device,${now},1,1`, /device: must be/],
  [`sensor-004,soon,1,1`, /ts: not epoch milliseconds or ISO-8601/],
  [`sensor-004,${old},1,1`, /ts: .*older than the retention/],
  [`sensor-004,${now + 2 * 86_400_000},1,1`, /ts: .*more than 1d in the future/],
  [`sensor-005,${now + 1},-3.25,`, null],
];

function ingest(prefix: string, flags: Flags, input?: string) {
  return runInProcess('ingest', { redisUrl, prefix, json: true, ...flags }, { input });
}

function expectRejections(stderr: string, file: string, lines: [string, RegExp | null][]) {
  const bad = lines.map(([, reason], i) => ({ line: i + 1, reason })).filter((b) => b.reason);
  for (const { line, reason } of bad) {
    const message = stderr.split('\n').find((l) => l.startsWith(`${file}:${line}: `));
    expect(message, `line ${line}`).toMatch(reason!);
  }
  expect(
    stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith(`${file}:`)),
  ).toHaveLength(bad.length);
  return bad;
}

describe('ingest', () => {
  it('lands every good NDJSON record and reports every bad one with its line and reason (exit 2)', async () => {
    const prefix = randomPrefix('producer');
    const file = join(dir, 'readings.ndjson');
    const rejects = join(dir, 'rejects.ndjson');
    await writeFile(file, NDJSON_LINES.map(([l]) => l).join('\n'));
    const run = await ingest(prefix, { file, rejects });
    expect(run.code).toBe(2);
    const bad = expectRejections(run.stderr, file, NDJSON_LINES);
    expect(summaryOf(run)).toMatchObject({ readings: 3, rejected: bad.length });
    const written = await partitionEntries(redis, prefix);
    expect(written.map((e) => e.fields.device).sort()).toEqual(['sensor-001', 'sensor-002', 'sensor-005']);
    expect(written.find((e) => e.fields.device === 'sensor-002')!.fields.ts).toBe(String(now));
    const rejected = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rejected.map((r) => r.line)).toEqual(bad.map((b) => b.line));
    for (const r of rejected) expect(r.input).toBe(NDJSON_LINES[r.line - 1]![0]);
  });

  it('does the same for CSV with a header row, the format taken from the extension', async () => {
    const prefix = randomPrefix('producer');
    const file = join(dir, 'readings.csv');
    await writeFile(file, CSV_LINES.map(([l]) => l).join('\r\n'));
    const run = await ingest(prefix, { file });
    expect(run.code).toBe(2);
    const bad = expectRejections(run.stderr, file, CSV_LINES);
    expect(summaryOf(run)).toMatchObject({ readings: 3, rejected: bad.length });
    const written = await partitionEntries(redis, prefix);
    expect(written.map((e) => [e.fields.device, e.fields.temp_f, e.fields.humidity])).toEqual([
      ['sensor-001', '70.5', '41'],
      ['sensor-002', '68', undefined],
      ['sensor-005', '-3.25', undefined],
    ]);
  });

  it('refuses a CSV whose header lacks a required column and reads no further', async () => {
    const prefix = randomPrefix('producer');
    const run = await ingest(prefix, { format: 'csv' }, `device,temperature\nsensor-001,${now}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/stdin:1: header lacks column ts, temp_f/);
    expect(summaryOf(run)).toMatchObject({ readings: 0, rejected: 1 });
  });

  it('exits 0 when every record lands, reading stdin', async () => {
    const prefix = randomPrefix('producer');
    const input = Array.from({ length: 2500 }, (_, i) =>
      JSON.stringify({ device: `d${i % 7}`, ts: now + i, temp_f: i }),
    ).join('\n');
    const run = await ingest(prefix, {}, input);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(summaryOf(run)).toMatchObject({ readings: 2500, rejected: 0 });
    expect(await partitionEntries(redis, prefix)).toHaveLength(2500);
  });

  it('--strict stops at the first bad record; the records before it land, none after', async () => {
    const prefix = randomPrefix('producer');
    const lines = [
      JSON.stringify({ device: 'a', ts: now, temp_f: 1 }),
      JSON.stringify({ device: 'b', ts: now, temp_f: 2 }),
      JSON.stringify({ device: 'c', ts: now, temp_f: 'x' }),
      JSON.stringify({ device: 'd', ts: now, temp_f: 4 }),
      'garbage',
    ];
    const run = await ingest(prefix, { strict: true }, lines.join('\n'));
    expect(run.code).toBe(2);
    expect(summaryOf(run)).toMatchObject({
      readings: 2,
      rejected: 1,
      stopped: 'at line 3 (--strict or an unreadable header)',
    });
    expect(run.stderr).toMatch(/stdin:3: temp_f: not a number/);
    expect(run.stderr).not.toMatch(/stdin:5/);
    expect((await partitionEntries(redis, prefix)).map((e) => e.fields.device)).toEqual(['a', 'b']);
  });

  it('recognises batches an earlier run of the same input wrote and does not write them twice', async () => {
    const prefix = randomPrefix('producer');
    const input = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify({ device: 'd', ts: now + i, temp_f: i }),
    ).join('\n');
    const first = await ingest(prefix, {}, input);
    const second = await ingest(prefix, {}, input);
    expect(summaryOf(first)).toMatchObject({ readings: 1200, alreadyPresent: 0 });
    expect(summaryOf(second)).toMatchObject({ readings: 0, alreadyPresent: 1200 });
    expect(second.code).toBe(0);
    expect(await partitionEntries(redis, prefix)).toHaveLength(1200);
  });

  it('reports a missing input file or an unwritable rejects file before connecting (exit 1)', async () => {
    const closedPort = { redisUrl: 'redis://127.0.0.1:1' };
    const missing = await runInProcess('ingest', { ...closedPort, file: join(dir, 'nope.ndjson') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ingest: ENOENT: no such file or directory/);
    const rejects = await runInProcess('ingest', { ...closedPort, rejects: join(dir, 'no/such/dir') });
    expect(rejects.code).toBe(1);
    expect(rejects.stderr).toMatch(/^ingest: ENOENT/);
  });
});
