import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng, readingsBetween, runProducer, startAggregator, summaryOf } from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS } from '@pipe/streams';
import { expect, it } from 'vitest';
import { expectEachCountedOnce, landedReadings, missingFromInput } from '../src/accounting.js';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();

const LINES = 200_000;
const MALFORMED = LINES / 100;

/** Bad records of the kinds real exports contain, each with the reason the producer must give. */
function malformedKinds(now: number): { line: string; reason: RegExp }[] {
  const good = { device: 'sensor-1', ts: now - HOUR_MS, temp_f: 60 };
  return [
    { line: '{"device":"sensor-1","ts":', reason: /not JSON/ },
    { line: '"a string"', reason: /not a JSON object/ },
    { line: JSON.stringify({ ts: good.ts, temp_f: 1 }), reason: /device: missing/ },
    { line: JSON.stringify({ ...good, temp_f: 'warm' }), reason: /temp_f: not a number/ },
    { line: JSON.stringify({ ...good, humidity: 120 }), reason: /humidity: out of range/ },
    { line: JSON.stringify({ ...good, device: 'no spaces' }), reason: /device: must be/ },
    {
      line: JSON.stringify({ ...good, ts: '2026-01-01T00:00:00' }),
      reason: /ts: ISO-8601 time without a zone/,
    },
    { line: JSON.stringify({ ...good, ts: now - 3 * DAY_MS }), reason: /ts: .*older than the retention/ },
    { line: JSON.stringify({ ...good, ts: now * 1000 }), reason: /ts: .*more than 1d in the future/ },
  ];
}

it('producer ingest of input with 1% malformed records: exactly the good ones land and are counted, every bad one is reported with its line', async () => {
  const server = await startServer();
  const target = targetOn(server.url, 'malformed');
  const redis = connect({ url: server.url });
  const dir = await mkdtemp(join(tmpdir(), 'faults-malformed-'));
  try {
    const now = Date.now();
    // 1% of the lines, at positions drawn at random (seeded), get one of the bad kinds in turn.
    const random = prng(99);
    const bad = new Set<number>();
    while (bad.size < MALFORMED) bad.add(1 + Math.floor(random() * LINES));
    // 33 devices every 6 s over the last 10 hours: the 198,000 good records.
    const good = readingsBetween(now - 10 * HOUR_MS, now, 6000, 33, 31);
    expect(good).toHaveLength(LINES - MALFORMED);
    const kinds = malformedKinds(now);
    const expected = new Map<number, { line: string; reason: RegExp }>();
    const lines: string[] = [];
    let next = 0;
    for (let n = 1; n <= LINES; n++) {
      if (bad.has(n)) {
        const kind = kinds[expected.size % kinds.length]!;
        expected.set(n, kind);
        lines.push(kind.line);
      } else lines.push(JSON.stringify(good[next++]));
    }
    const file = join(dir, 'readings.ndjson');
    const rejects = join(dir, 'rejects.ndjson');
    await writeFile(file, `${lines.join('\n')}\n`);

    const run = await runProducer([
      'ingest',
      ...target.flags,
      '--file',
      file,
      '--rejects',
      rejects,
      '--json',
    ]);
    expect(run.code, 'exit 2: some records were rejected').toBe(2);
    expect(summaryOf(run)).toMatchObject({ readings: good.length, rejected: MALFORMED });
    // stderr: one `<file>:<line>: <reason>` per bad record, nothing else.
    const reported = run.stderr.trim().split('\n');
    expect(reported).toHaveLength(MALFORMED);
    for (const message of reported) {
      const [, line, reason] = /^(\d+): (.*)$/.exec(message.slice(`${file}:`.length)) ?? [];
      expect(message.startsWith(`${file}:`), message).toBe(true);
      expect(reason, message).toMatch(expected.get(Number(line))?.reason ?? /^never$/);
    }
    // The rejects file: each bad line once, with its reason and its input as it was.
    const rejected = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string; input: string });
    expect(rejected.map((r) => r.line)).toEqual([...expected.keys()]);
    for (const r of rejected) {
      expect(r.input).toBe(expected.get(r.line)!.line);
      expect(r.reason).toMatch(expected.get(r.line)!.reason);
    }

    // Exactly the good records landed, each once, and the aggregator counts exactly them.
    const landed = await landedReadings(redis, target.keys);
    expect(missingFromInput(good, landed)).toEqual([]);
    expect(landed).toHaveLength(good.length);
    const drain = await startAggregator(['run', '--drain', ...target.flags]).exited;
    expect(drain.code, drain.stderr).toBe(0);
    const accounting = await expectEachCountedOnce(redis, target.keys, good);
    expect(accounting.late).toBe(0);
    console.log(
      `malformed input: ${LINES} lines, ${summaryOf(run).readings} landed, ${summaryOf(run).rejected} rejected ` +
        `(stderr ${reported.length}, rejects file ${rejected.length}); counted ${accounting.counted} into ${accounting.hours} hours`,
    );
  } finally {
    redis.disconnect();
  }
}, 180_000);
