import type { Readable } from 'node:stream';

export interface InputLine {
  /** 1-based line number in the input. */
  number: number;
  /** The line without its line ending; cut to MAX_KEPT characters when too long. */
  text: string;
  /** Longer than the limit: its text is only the start, and it is not a record. */
  tooLong: boolean;
}

export interface ReadLinesOptions {
  /** Longest line taken as a record, in characters. */
  maxLineLength?: number;
  /**
   * Ends the lines when aborted, at once, whether or not input is arriving (a quiet pipe or FIFO, one
   * endless line). A line whose newline has not arrived yet is dropped: it may be cut short.
   */
  signal?: AbortSignal;
}

/** How much of an over-long line is kept for the rejection report. */
const MAX_KEPT = 200;
const STOPPED = Symbol('stopped');

/**
 * Splits a text stream into lines, one array per chunk read, so the caller awaits once per chunk rather
 * than once per line. Memory stays bounded whatever the input: one chunk plus at most `maxLineLength`
 * characters of an unfinished line. A longer line is reported as too long as soon as it is (not when
 * its newline comes, which may be never), and the rest of it is skipped. A UTF-8 byte order mark at the
 * start of the input is not part of line 1, whatever the format.
 */
export async function* readLines(
  input: Readable,
  { maxLineLength = 65_536, signal }: ReadLinesOptions = {},
): AsyncGenerator<InputLine[]> {
  input.setEncoding('utf8');
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<string>;
  let carry = '';
  /** The line in hand was already reported too long; what is left of it is skipped. */
  let skipping = false;
  let number = 0;
  let started = false;
  for (;;) {
    // Checked first as well: while data is buffered, race would keep taking the settled read.
    if (signal?.aborted) return;
    const next = await nextOrStop(chunks, signal);
    if (next === STOPPED) return;
    if (next.done) break;
    let chunk = next.value;
    if (!started && chunk.length > 0) {
      started = true;
      if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
    }
    const lines: InputLine[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf('\n', start);
      if (end === -1) break;
      if (skipping) skipping = false;
      else lines.push(toLine(++number, carry + chunk.slice(start, end), maxLineLength));
      carry = '';
      start = end + 1;
    }
    if (!skipping && start < chunk.length) {
      carry += chunk.slice(start);
      if (carry.length > maxLineLength) {
        lines.push({ number: ++number, text: carry.slice(0, MAX_KEPT), tooLong: true });
        carry = '';
        skipping = true;
      }
    }
    if (lines.length > 0) yield lines;
  }
  if (carry.length > 0) yield [toLine(++number, carry, maxLineLength)];
}

/**
 * The next chunk, or STOPPED as soon as the signal aborts, whether or not input arrives (the abandoned
 * read settles unobserved). Not Promise.race against one promise that lives as long as the input: each
 * race would leave a reaction on it holding that read's chunk, and an ingest would keep all its input.
 */
function nextOrStop(
  chunks: AsyncIterator<string>,
  signal: AbortSignal | undefined,
): Promise<IteratorResult<string> | typeof STOPPED> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(STOPPED);
    signal?.addEventListener('abort', onAbort, { once: true });
    chunks.next().then(
      (result) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function toLine(number: number, text: string, maxLineLength: number): InputLine {
  const line = text.endsWith('\r') ? text.slice(0, -1) : text;
  return line.length > maxLineLength
    ? { number, text: line.slice(0, MAX_KEPT), tooLong: true }
    : { number, text: line, tooLong: false };
}
