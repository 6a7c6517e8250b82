import { expectAveragesToMatch, expectedHours, partitionEntries } from '@pipe/fixtures';
import {
  decodeLateReading,
  decodeReading,
  discoverPartitions,
  groupsOf,
  hourWindowOf,
  objectToFields,
  type PipelineKeys,
  type Reading,
  type RedisClient,
  Stream,
} from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import { expect } from 'vitest';

/** A reading's identity here: every input of these tests has one reading per device and event time. */
export const readingKey = (r: { device?: string; ts?: number | string }) => `${r.device}@${r.ts}`;

/** The readings in the partitions now, decoded as the aggregator decodes them (entries that do not decode left out). */
export async function landedReadings(redis: RedisClient, keys: PipelineKeys): Promise<Reading[]> {
  const out: Reading[] = [];
  for (const { id, fields } of await partitionEntries(redis, keys.prefix)) {
    const decoded = decodeReading(id, objectToFields(fields));
    if (decoded.ok) out.push(decoded.value);
  }
  return out;
}

/**
 * Checks that every landed reading is one of the input's, with its values, and that none landed twice;
 * returns the input readings that did not land.
 */
export function missingFromInput(input: Reading[], landed: Reading[]): Reading[] {
  const byKey = new Map(input.map((r) => [readingKey(r), r]));
  const seen = new Set<string>();
  const strangers: Reading[] = [];
  const doubles: string[] = [];
  for (const r of landed) {
    const key = readingKey(r);
    const original = byKey.get(key);
    if (!original || original.temp_f !== r.temp_f || original.humidity !== r.humidity) strangers.push(r);
    if (seen.has(key)) doubles.push(key);
    seen.add(key);
  }
  expect(strangers, 'readings in Redis that the input does not have').toEqual([]);
  expect(doubles, 'readings in Redis twice').toEqual([]);
  return input.filter((r) => !seen.has(readingKey(r)));
}

/** How many UTC hours the readings fall into: the averages the aggregators must publish for them. */
export function hourCount(readings: Iterable<Reading>): number {
  const hours = new Set<number>();
  for (const r of readings) hours.add(hourWindowOf(r.ts).start);
  return hours.size;
}

/**
 * Waits until the aggregators are done: `hours` averages published, and every partition delivered to
 * and acknowledged by the group.
 */
export async function waitForEveryHour(
  redis: RedisClient,
  keys: PipelineKeys,
  hours: number,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    `${hours} hours published and every partition caught up`,
    async () => {
      if ((await new Stream(redis, keys.averages).length()) < hours) return false;
      for (const partition of await discoverPartitions(redis, keys)) {
        for (const g of await groupsOf(redis, partition)) if (g.lag !== 0 || g.pending !== 0) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

export interface Accounting {
  hours: number;
  /** Readings counted into the averages. */
  counted: number;
  /** Readings named in the late stream instead (their hour was published before they arrived). */
  late: number;
}

/**
 * Every one of `readings` (what landed) was counted once into its hour or else named once in the late
 * stream: the averages equal exact figures over the on-time readings, computed here from the input.
 */
export async function expectEachCountedOnce(
  redis: RedisClient,
  keys: PipelineKeys,
  readings: Reading[],
): Promise<Accounting> {
  const late: string[] = [];
  for await (const entry of new Stream(redis, keys.late)) {
    const decoded = decodeLateReading(entry.fields);
    if (!decoded.ok) throw decoded.error;
    late.push(readingKey(decoded.value.fields));
  }
  const lateSet = new Set(late);
  expect(lateSet.size, 'readings named twice in the late stream').toBe(late.length);
  const onTime = readings.filter((r) => !lateSet.has(readingKey(r)));
  expect(onTime.length + late.length, 'late entries that are not landed readings').toBe(readings.length);
  const expected = expectedHours(onTime);
  await expectAveragesToMatch(redis, keys, expected);
  return { hours: expected.length, counted: onTime.length, late: late.length };
}
