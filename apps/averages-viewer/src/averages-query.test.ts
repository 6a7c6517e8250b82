import { describe, expect, it } from 'vitest';
import { BadRequest, parseAveragesQuery } from './averages-query.js';

const parse = (query: string) => parseAveragesQuery(new URLSearchParams(query), 100);

describe('parseAveragesQuery', () => {
  it('reads ISO and ms bounds, both optional, and defaults the limit to the maximum', () => {
    expect(parse('from=2027-01-01T13:00&to=1798815600000&limit=5')).toEqual({
      fromMs: Date.UTC(2027, 0, 1, 13),
      toMs: 1798815600000,
      limit: 5,
    });
    expect(parse('')).toEqual({ fromMs: undefined, toMs: undefined, limit: 100 });
    expect(parse('from=&to=')).toEqual({ fromMs: undefined, toMs: undefined, limit: 100 });
  });

  it('names every bad parameter at once', () => {
    expect(() => parse('from=soon&to=later&limit=0')).toThrow(BadRequest);
    expect(() => parse('from=soon&limit=101')).toThrow(/^from: .*soon; limit: a whole number from 1 to 100$/);
    expect(() => parse('limit=2.5')).toThrow(/limit/);
    for (const limit of ['1e1', '0x10', '%201%20', '+5', '5.0', '-1', '1_0']) {
      expect(() => parse(`limit=${limit}`), limit).toThrow(/^limit: /);
    }
    expect(parse('limit=007').limit).toBe(7);
    expect(() => parse('from=1969-12-31')).toThrow(/^from: .*1970-01-01/);
  });
});
