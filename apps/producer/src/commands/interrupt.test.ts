import { afterEach, describe, expect, it } from 'vitest';
import { interruptOnSignals } from './interrupt.js';

// process.emit runs the listeners without a real signal; the second signal's exit stays a process test
// (test/hostile-signals.test.ts).
describe('interruptOnSignals', () => {
  let release: (() => void) | undefined;
  afterEach(() => release?.());

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`stops the input on the first ${signal}`, () => {
      let stops = 0;
      release = interruptOnSignals(() => stops++);
      process.emit(signal);
      expect(stops).toBe(1);
    });
  }

  it('leaves the signals alone once released', () => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    let stops = 0;
    const done = interruptOnSignals(() => stops++);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    done();
    expect(process.listenerCount('SIGINT')).toBe(before.int);
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
  });
});
