import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type InputLine, readLines } from './line-reader.js';

async function collect(chunks: string[], max?: number): Promise<InputLine[]> {
  const out: InputLine[] = [];
  for await (const lines of readLines(Readable.from(chunks.map((c) => Buffer.from(c))), max))
    out.push(...lines);
  return out;
}

describe('readLines', () => {
  it('numbers lines across chunk boundaries and strips CRLF', async () => {
    const lines = await collect(['a\r\nb', 'c\n\nd']);
    expect(lines.map((l) => [l.number, l.text])).toEqual([
      [1, 'a'],
      [2, 'bc'],
      [3, ''],
      [4, 'd'],
    ]);
  });

  it('reports an over-long line without buffering it and goes on with the next', async () => {
    const lines = await collect(['x'.repeat(30), 'y'.repeat(30), '\nok\n'], 40);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.tooLong).toBe(true);
    expect(lines[0]!.text.length).toBeLessThanOrEqual(200);
    expect(lines[1]).toEqual({ number: 2, text: 'ok', tooLong: false });
  });

  it('keeps a multi-byte character split between chunks whole', async () => {
    const bytes = Buffer.from('°F\n');
    const stream = Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]);
    const out: InputLine[] = [];
    for await (const lines of readLines(stream)) out.push(...lines);
    expect(out[0]!.text).toBe('°F');
  });
});
