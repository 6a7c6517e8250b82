/** How much of one text from the input is printed: a report line, not a copy of the input. */
const MAX_PRINTED = 300;

/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC starts the sequences that move
 * the cursor, clear lines, set the title; CR and newline would forge report lines), DEL, C1 controls
 * (U+009B is a one-character CSI), bidi controls that reorder what is shown, and Unicode line breaks.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it finds
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * The one way text that came from the input (a record, a CSV header, a parser message quoting either,
 * a file name) is printed: unsafe characters as `\xHH` / `\uHHHH`, cut to `maxLength` characters with
 * `…`. Only for the terminal: the --rejects file keeps the exact input, escaped as JSON.
 */
export function forTerminal(text: string, maxLength = MAX_PRINTED): string {
  if (text.length <= maxLength && !UNSAFE.test(text)) return text;
  let out = '';
  for (const char of text) {
    const piece = UNSAFE.test(char) ? escaped(char) : char;
    if (out.length + piece.length > maxLength) return `${out}…`;
    out += piece;
  }
  return out;
}

function escaped(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
}
