import { describe, expect, it } from 'vitest';
import { forTerminal } from './terminal-text.js';

describe('forTerminal', () => {
  it('leaves printable text, including non-ASCII, as it is', () => {
    expect(forTerminal('temp_f: not a number: "warm" (°F, 温度)')).toBe(
      'temp_f: not a number: "warm" (°F, 温度)',
    );
  });

  it('escapes C0 and C1 controls, DEL, newlines and tabs, so a line stays one inert line', () => {
    expect(forTerminal('x\u001b[2K\u001b[1Aok')).toBe('x\\x1b[2K\\x1b[1Aok');
    expect(forTerminal('a\u0007b\rc\nd\te\u007ff\u009b31m\u0000')).toBe(
      'a\\x07b\\x0dc\\x0ad\\x09e\\x7ff\\x9b31m\\x00',
    );
  });

  it('escapes characters that reorder or break lines (bidi controls, line separators)', () => {
    expect(forTerminal('a\u202eb\u2066c\u2028d\u200fe')).toBe('a\\u202eb\\u2066c\\u2028d\\u200fe');
  });

  it('cuts long text, never in the middle of an escape', () => {
    expect(forTerminal('y'.repeat(1000))).toBe(`${'y'.repeat(300)}…`);
    const cut = forTerminal('\u001b'.repeat(1000));
    expect(cut).toBe(`${'\\x1b'.repeat(75)}…`);
    expect(forTerminal('abcdef', 4)).toBe('abcd…');
  });
});
