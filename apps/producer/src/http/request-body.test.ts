import { describe, expect, it } from 'vitest';
import { parseReadingsBody } from './request-body.js';

describe('parseReadingsBody', () => {
  it('reads NDJSON, skipping blank lines and CRLF, with a BOM dropped', () => {
    const parsed = parseReadingsBody('\ufeff{"device":"a"}\r\n\r\n  \n{"device":"b"}\n');
    expect(parsed).toEqual({ ok: true, records: [{ device: 'a' }, { device: 'b' }] });
  });

  it('reads a JSON array, leading blanks allowed', () => {
    expect(parseReadingsBody(' \n[{"device":"a"}, 3, null, []]')).toEqual({
      ok: true,
      records: [{ device: 'a' }, 'not a JSON object', 'not a JSON object', 'not a JSON object'],
    });
  });

  it('takes an empty body as no records', () => {
    expect(parseReadingsBody('')).toEqual({ ok: true, records: [] });
  });

  it('refuses a body with a line that is not JSON, naming the line', () => {
    const parsed = parseReadingsBody('{"device":"a"}\n\n{"device":');
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/^line 3 is not JSON/);
  });

  it('refuses an array that does not parse', () => {
    expect(parseReadingsBody('[{"device":"a"},')).toMatchObject({ ok: false, reason: /^not a JSON array/ });
  });
});
