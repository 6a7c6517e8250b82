import { type AppProcess, readingsBetween, startAggregator, summaryOf } from '@pipe/fixtures';
import { connect, DAY_MS, decodeDeadLetter, fieldsToObject, HOUR_MS, Stream } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { afterEach, expect, it } from 'vitest';
import { expectEachCountedOnce, hourCount, waitForEveryHour } from '../src/accounting.js';
import { feed, ndjsonLines, startIngest } from '../src/ingest.js';
import { serverPerTest } from '../src/own-server.js';
import { targetOn } from '../src/target.js';

const startServer = serverPerTest();
const aggregators: AppProcess[] = [];
afterEach(() => {
  for (const a of aggregators.splice(0)) a.kill('SIGKILL');
});

/** Entries no producer of pipe writes but anything with XADD rights can: each with the reason it must get. */
function poisonKinds(day: number): { fields: string[]; reason: RegExp }[] {
  const ts = String(day + 3 * HOUR_MS);
  return [
    { fields: ['device', 'sensor-1', 'ts', ts, 'temp_f', 'warm'], reason: /^temp_f: not a number/ },
    { fields: ['device', 'sensor-1', 'ts', ts, 'temp_f', '1e999'], reason: /^temp_f: not finite/ },
    { fields: ['device', 'sensor-1', 'ts', ts], reason: /^temp_f: missing/ },
    { fields: ['device', 'bad device!', 'ts', ts, 'temp_f', '50'], reason: /^device: must be/ },
    { fields: ['device', 'sensor-1', 'ts', 'yesterday', 'temp_f', '50'], reason: /^ts: not a number/ },
    { fields: ['device', 'sensor-1', 'ts', '-5', 'temp_f', '50'], reason: /^ts: not epoch milliseconds/ },
    {
      fields: ['device', 'sensor-1', 'ts', ts, 'temp_f', '50', 'humidity', '140'],
      reason: /^humidity: out of range/,
    },
    // Decodable, but its hour belongs to another day's partition: counted here it could be published twice.
    {
      fields: ['device', 'sensor-1', 'ts', String(day - HOUR_MS), 'temp_f', '50'],
      reason: /^event time .* is outside partition/,
    },
    // No ts: the event time is the ID's, which is now, not the partition's day.
    { fields: ['device', 'sensor-1', 'temp_f', '50'], reason: /^event time .* is outside partition/ },
    { fields: ['foo', 'bar'], reason: /^temp_f: missing/ },
  ];
}

it('poison entries mixed into the partitions while they fill: each dead-lettered once with its reason, the averages exact over the rest', async () => {
  const server = await startServer();
  const target = targetOn(server.url, 'poison');
  const redis = connect({ url: server.url });
  try {
    // Eight hours across a midnight of two days ago: two partitions fill at once.
    const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
    const readings = readingsBetween(midnight - 4 * HOUR_MS, midnight + 4 * HOUR_MS, 5000, 20, 44);
    const partitions = target.keys.partitionKeysBetween(midnight - 4 * HOUR_MS, midnight + 4 * HOUR_MS);
    for (const name of ['agg-a', 'agg-b'])
      aggregators.push(
        startAggregator([
          'run',
          '--consumer',
          name,
          '--block-ms',
          '200ms',
          '--idle-close',
          '2s',
          ...target.flags,
        ]),
      );
    // Paced to take about 6 s, so that a few hundred poison entries go in while it writes.
    const ingest = startIngest(target, feed(ndjsonLines(readings), { pauseMs: 50 }), ['--retention', '4d']);

    // While the producer writes, poison entries go in between its batches, into both partitions.
    const poison = new Map<string, { stream: string; fields: string[]; reason: RegExp }>();
    for (let i = 0; ingest.child.exitCode === null; i++) {
      const stream = partitions[i % partitions.length]!;
      const kinds = poisonKinds(target.keys.parsePartitionKey(stream));
      const { fields, reason } = kinds[Math.floor(i / partitions.length) % kinds.length]!;
      // NOMKSTREAM: a partition the producer has not created yet would otherwise exist without expiry.
      const id = (await redis.call('XADD', stream, 'NOMKSTREAM', '*', ...fields)) as string | null;
      if (id) poison.set(id, { stream, fields, reason });
      await sleep(10);
    }
    const run = await ingest.exited;
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: readings.length, rejected: 0 });

    await waitForEveryHour(redis, target.keys, hourCount(readings));
    const accounting = await expectEachCountedOnce(redis, target.keys, readings);
    const letters = [];
    for await (const entry of new Stream(redis, target.keys.deadLetters)) {
      const letter = decodeDeadLetter(entry.fields);
      if (!letter.ok) throw letter.error;
      letters.push(letter.value);
    }
    console.log(
      `poison: ${readings.length} readings and ${poison.size} poison entries; ${letters.length} dead letters; ` +
        `counted ${accounting.counted} into ${accounting.hours} hours, late ${accounting.late}`,
    );
    // Enough poison, of every kind, in both partitions, to prove something.
    expect(poison.size).toBeGreaterThanOrEqual(100);
    // Each poison entry once, with its stream, its reason and its original fields; nothing else.
    expect(letters.map((l) => l.id).sort()).toEqual([...poison.keys()].sort());
    for (const letter of letters) {
      const original = poison.get(letter.id)!;
      expect(letter.stream).toBe(original.stream);
      expect(letter.group).toBe('aggregator');
      expect(letter.reason).toMatch(original.reason);
      expect(letter.fields).toEqual(fieldsToObject(original.fields));
    }
    for (const a of aggregators) a.kill('SIGTERM');
    for (const a of aggregators) expect((await a.exited).code).toBe(0);
  } finally {
    redis.disconnect();
  }
}, 180_000);
