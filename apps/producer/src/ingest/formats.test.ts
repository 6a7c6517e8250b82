import { describe, expect, it } from 'vitest';
import { parseCsvHeader, parseCsvLine, splitCsvLine } from './csv.js';
import { parseNdjsonLine } from './ndjson.js';

describe('parseNdjsonLine', () => {
  it('returns the object of a JSON line', () => {
    expect(parseNdjsonLine('{"device":"d","ts":1,"temp_f":2}')).toEqual({ device: 'd', ts: 1, temp_f: 2 });
  });

  it('says why a line is not a record', () => {
    expect(parseNdjsonLine('{"device":')).toMatch(/^not JSON: /);
    expect(parseNdjsonLine('[1,2]')).toBe('not a JSON object');
    expect(parseNdjsonLine('null')).toBe('not a JSON object');
  });
});

describe('CSV', () => {
  it('finds the known columns in any order and ignores others', () => {
    const header = parseCsvHeader('ts,site,temp_f,device');
    expect(header).toEqual({ columns: 4, ts: 0, temp_f: 2, device: 3 });
    expect(parseCsvLine('1000,north,70.5,sensor-001', header as never)).toEqual({
      ts: '1000',
      temp_f: '70.5',
      device: 'sensor-001',
    });
  });

  it('names the columns a header lacks', () => {
    expect(parseCsvHeader('device,temperature')).toMatch(/lacks column ts, temp_f/);
  });

  it('splits quoted cells with commas and escaped quotes', () => {
    expect(splitCsvLine('"a,b","say ""hi""",c')).toEqual(['a,b', 'say "hi"', 'c']);
    expect(splitCsvLine('a,,')).toEqual(['a', '', '']);
    expect(splitCsvLine('"open')).toBe('unterminated quoted cell');
    expect(splitCsvLine('"a"b')).toMatch(/unexpected text/);
  });

  it('refuses a row with the wrong number of cells', () => {
    const header = parseCsvHeader('device,ts,temp_f,humidity') as never;
    expect(parseCsvLine('d,1,2', header)).toBe('expected 4 columns, found 3');
  });
});
