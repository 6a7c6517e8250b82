import {
  type Decoded,
  decodeAverage,
  type FieldList,
  type HourlyAverage,
  type StreamEntry,
} from '@pipe/streams';

/** A decoded entry with the ID it was read under (the position a viewer resumes after). */
export interface DecodedRow<T> {
  id: string;
  value: T;
}

/** A decoded average with the ID it was read under (the position a viewer resumes after). */
export interface AverageRow {
  id: string;
  average: HourlyAverage;
}

export interface MalformedAverage {
  id: string;
  reason: string;
}

/** Splits entries of a results stream into decoded values and the malformed ones to skip. */
export function decodeEntries<T>(
  entries: readonly StreamEntry[],
  decode: (id: string, fields: FieldList) => Decoded<T>,
): { rows: DecodedRow<T>[]; malformed: MalformedAverage[] } {
  const rows: DecodedRow<T>[] = [];
  const malformed: MalformedAverage[] = [];
  for (const { id, fields } of entries) {
    const decoded = decode(id, fields);
    if (decoded.ok) rows.push({ id, value: decoded.value });
    else malformed.push({ id, reason: decoded.error.message });
  }
  return { rows, malformed };
}

/** Splits entries of the averages stream into decoded averages and the malformed ones to skip. */
export function decodeAverageEntries(entries: readonly StreamEntry[]): {
  rows: AverageRow[];
  malformed: MalformedAverage[];
} {
  const { rows, malformed } = decodeEntries(entries, decodeAverage);
  return { rows: rows.map(({ id, value }) => ({ id, average: value })), malformed };
}

/**
 * Malformed entries the server has seen, counted once each however often a page asks for them.
 * Bounded: the averages stream is capped, so older IDs are forgotten first.
 */
export class MalformedTally {
  private readonly seen = new Map<string, string>();

  constructor(private readonly limit = 10_000) {}

  record(malformed: readonly MalformedAverage[]): void {
    for (const { id, reason } of malformed) {
      if (this.seen.has(id)) continue;
      this.seen.set(id, reason);
      if (this.seen.size > this.limit) this.seen.delete(this.seen.keys().next().value!);
    }
  }

  get count(): number {
    return this.seen.size;
  }

  /** The most recent few, for the status panel. */
  latest(n = 5): MalformedAverage[] {
    return [...this.seen].slice(-n).map(([id, reason]) => ({ id, reason }));
  }
}
