import { describe, expect, it } from 'vitest';
import { parseTimeBound } from './time-bound.js';

// The grammar, zones and ranges are parseTime's (@pipe/service, time-text.test.ts); here, the viewer's rule.
describe('parseTimeBound', () => {
  it('reads an ISO time or date without a zone as UTC, and takes epoch ms', () => {
    expect(parseTimeBound('2027-01-01T13:00')).toBe(Date.UTC(2027, 0, 1, 13));
    expect(parseTimeBound('2027-01-01')).toBe(Date.UTC(2027, 0, 1));
    expect(parseTimeBound('1798808400000')).toBe(1798808400000);
  });

  it('gives undefined for what is not a bound', () => {
    for (const text of ['yesterday', '2027-02-30', '1969-12-31']) {
      expect(parseTimeBound(text), text).toBeUndefined();
    }
  });
});
