import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type InputLine, type ReadLinesOptions, readLines } from './line-reader.js';

async function collect(chunks: (string | Buffer)[], options?: ReadLinesOptions): Promise<InputLine[]> {
  const out: InputLine[] = [];
  const input = Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
  for await (const lines of readLines(input, options)) out.push(...lines);
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
    const lines = await collect(['x'.repeat(30), 'y'.repeat(30), '\nok\n'], { maxLineLength: 40 });
    expect(lines).toHaveLength(2);
    expect(lines[0]!.tooLong).toBe(true);
    expect(lines[0]!.text.length).toBeLessThanOrEqual(200);
    expect(lines[1]).toEqual({ number: 2, text: 'ok', tooLong: false });
  });

  it('reports an endless line as soon as it is too long, not when (if ever) its newline comes', async () => {
    const input = new PassThrough();
    const lines = readLines(input, { maxLineLength: 40 });
    input.write('z'.repeat(50));
    const first = await lines.next();
    expect(first.value).toEqual([{ number: 1, text: 'z'.repeat(50), tooLong: true }]);
    input.end('z'.repeat(50));
    expect((await lines.next()).done).toBe(true);
  });

  it('keeps a multi-byte character split between chunks whole', async () => {
    const bytes = Buffer.from('°F\n');
    expect((await collect([bytes.subarray(0, 1), bytes.subarray(1)]))[0]!.text).toBe('°F');
  });

  it('drops a UTF-8 byte order mark at the start of the input, even split between chunks', async () => {
    const bytes = Buffer.from('\uFEFF{"a":1}\n\uFEFFx\n');
    const lines = await collect([bytes.subarray(0, 2), bytes.subarray(2)]);
    expect(lines.map((l) => l.text)).toEqual(['{"a":1}', '\uFEFFx']);
  });

  it('ends at once when aborted while no input arrives; a line without its newline is dropped', async () => {
    const input = new PassThrough();
    const stop = new AbortController();
    const lines = readLines(input, { signal: stop.signal });
    input.write('one\ntw');
    expect((await lines.next()).value).toEqual([{ number: 1, text: 'one', tooLong: false }]);
    const pending = lines.next();
    setTimeout(() => stop.abort(), 20);
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('ends when aborted even while data keeps coming', async () => {
    const stop = new AbortController();
    const endless = Readable.from(
      (function* () {
        for (;;) yield Buffer.from('line\n'.repeat(1000));
      })(),
    );
    let read = 0;
    for await (const lines of readLines(endless, { signal: stop.signal })) {
      read += lines.length;
      if (read > 10_000) stop.abort();
    }
    expect(read).toBeGreaterThan(10_000);
  });
});
