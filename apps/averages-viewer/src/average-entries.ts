import { decodeAverage, type HourlyAverage, type StreamEntry } from '@pipe/streams';

/** A decoded average with the ID it was read under (the position a viewer resumes after). */
export interface AverageRow {
  id: string;
  average: HourlyAverage;
}

export interface MalformedAverage {
  id: string;
  reason: string;
}

/** Splits entries of the averages stream into decoded averages and the malformed ones to skip. */
export function decodeAverageEntries(entries: readonly StreamEntry[]): {
  rows: AverageRow[];
  malformed: MalformedAverage[];
} {
  const rows: AverageRow[] = [];
  const malformed: MalformedAverage[] = [];
  for (const { id, fields } of entries) {
    const decoded = decodeAverage(id, fields);
    if (decoded.ok) rows.push({ id, average: decoded.value });
    else malformed.push({ id, reason: decoded.error.message });
  }
  return { rows, malformed };
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
