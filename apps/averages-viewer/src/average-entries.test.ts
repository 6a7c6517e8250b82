import { encodeAverage } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { decodeAverageEntries, MalformedTally } from './average-entries.js';

const hourStart = Date.UTC(2027, 0, 1, 13);
const good = {
  id: `${hourStart}-0`,
  fields: encodeAverage({
    hourStart,
    date: '2027/01/01',
    hour: 13,
    average_temp_f: 51.5,
    num_observations: 10,
  }),
};

describe('decodeAverageEntries', () => {
  it('keeps valid averages in order and names the reason for each malformed one', () => {
    const bad = {
      id: `${hourStart + 3_600_000}-0`,
      fields: ['date', '2027/01/01', 'hour', '14', 'average_temp_f', 'warm'],
    };
    const { rows, malformed } = decodeAverageEntries([good, bad]);
    expect(rows).toEqual([
      { id: good.id, average: expect.objectContaining({ hourStart, average_temp_f: 51.5 }) },
    ]);
    expect(malformed).toHaveLength(1);
    expect(malformed[0]!.id).toBe(bad.id);
    expect(malformed[0]!.reason).toMatch(/average_temp_f/);
  });
});

describe('MalformedTally', () => {
  it('counts each malformed ID once and forgets the oldest beyond its limit', () => {
    const tally = new MalformedTally(2);
    tally.record([{ id: '1-0', reason: 'a' }]);
    tally.record([
      { id: '1-0', reason: 'a' },
      { id: '2-0', reason: 'b' },
    ]);
    expect(tally.count).toBe(2);
    tally.record([{ id: '3-0', reason: 'c' }]);
    expect(tally.count).toBe(2);
    expect(tally.latest().map((m) => m.id)).toEqual(['2-0', '3-0']);
  });
});
