import { DAY_MS, decodeReading, type Reading } from '@pipe/streams';

/** An entry of a partition: a reading of the partition's day, or why it is a poison pill. */
export type CheckedEntry =
  | { readonly id: string; readonly fields: string[]; readonly reading: Reading }
  | { readonly id: string; readonly fields: string[]; readonly poison: string };

/**
 * Decodes each entry of a batch read from `stream`, whose UTC day starts at `day`. A reading whose
 * event time lies outside that day is poison too: every window must live in exactly one partition's
 * state, or it could be published twice.
 */
export function* checkedEntries(
  stream: string,
  day: number,
  entries: Iterable<{ id: string; fields: string[] }>,
): Generator<CheckedEntry> {
  for (const { id, fields } of entries) {
    const decoded = decodeReading(id, fields);
    if (!decoded.ok) yield { id, fields, poison: decoded.error.message };
    else if (decoded.value.ts < day || decoded.value.ts >= day + DAY_MS)
      yield {
        id,
        fields,
        poison: `event time ${new Date(decoded.value.ts).toISOString()} is outside partition ${stream}`,
      };
    else yield { id, fields, reading: decoded.value };
  }
}
