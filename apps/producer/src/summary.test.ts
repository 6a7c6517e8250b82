import { describe, expect, it } from 'vitest';
import { formatSummary, summarize } from './summary.js';

const stats = (written: number, alreadyPresent = 0, rejected = 0, partitions = ['p1']) => ({
  written,
  alreadyPresent,
  rejected,
  partitions: new Set(partitions),
});

describe('summarize', () => {
  it('counts readings, partitions and a rate rounded to whole readings per second', () => {
    expect(summarize('ingest', stats(1000, 5, 2, ['p1', 'p2']), 0.4)).toEqual({
      command: 'ingest',
      readings: 1000,
      alreadyPresent: 5,
      rejected: 2,
      partitions: 2,
      seconds: 0.4,
      readingsPerSecond: 2500,
    });
  });

  it('gives a rate of 0 for a run that took no measurable time', () => {
    expect(summarize('run', stats(3), 0).readingsPerSecond).toBe(0);
  });
});

describe('formatSummary', () => {
  it('says what was written on one line, in the singular for one partition', () => {
    expect(formatSummary(summarize('backfill', stats(10), 2))).toBe(
      'backfill: 10 readings written to 1 partition in 2.00 s (5 readings/s); 0 rejected',
    );
  });

  it('adds readings already present, not confirmed and why the run stopped, only when there are any', () => {
    const summary = summarize('ingest', stats(4, 6, 1, ['p1', 'p2']), 1, {
      unconfirmed: 3,
      stopped: 'interrupted after line 11',
    });
    expect(formatSummary(summary)).toBe(
      'ingest: 4 readings written to 2 partitions in 1.00 s (4 readings/s); 1 rejected;' +
        ' 6 already present (written by an earlier run); 3 not confirmed; stopped: interrupted after line 11',
    );
  });
});
