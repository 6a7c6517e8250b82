import type { Readable } from 'node:stream';

export interface InputLine {
  /** 1-based line number in the input. */
  number: number;
  /** The line without its line ending; cut to MAX_KEPT characters when too long. */
  text: string;
  /** Longer than the limit: its text is only the start, and it is not a record. */
  tooLong: boolean;
}

/** How much of an over-long line is kept for the rejection report. */
const MAX_KEPT = 200;

/**
 * Splits a text stream into lines, one array per chunk read, so the caller awaits once per chunk rather
 * than once per line. Memory stays bounded whatever the input: one chunk plus at most `maxLineLength`
 * characters of an unfinished line; a longer line is reported as too long rather than buffered.
 */
export async function* readLines(input: Readable, maxLineLength = 65_536): AsyncGenerator<InputLine[]> {
  input.setEncoding('utf8');
  let carry = '';
  let carryTooLong = false;
  let number = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    const lines: InputLine[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf('\n', start);
      if (end === -1) break;
      let text = carry + chunk.slice(start, end);
      carry = '';
      if (text.endsWith('\r')) text = text.slice(0, -1);
      const tooLong = carryTooLong || text.length > maxLineLength;
      lines.push({ number: ++number, text: tooLong ? text.slice(0, MAX_KEPT) : text, tooLong });
      carryTooLong = false;
      start = end + 1;
    }
    if (start < chunk.length) {
      carry += chunk.slice(start);
      if (carry.length > maxLineLength) {
        carry = carry.slice(0, MAX_KEPT);
        carryTooLong = true;
      }
    }
    if (carryTooLong && carry.length > MAX_KEPT) carry = carry.slice(0, MAX_KEPT);
    if (lines.length > 0) yield lines;
  }
  if (carry.length > 0 || carryTooLong) {
    const text = carry.endsWith('\r') ? carry.slice(0, -1) : carry;
    yield [{ number: ++number, text, tooLong: carryTooLong || text.length > maxLineLength }];
  }
}
