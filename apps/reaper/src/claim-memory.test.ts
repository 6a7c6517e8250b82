import { describe, expect, it } from 'vitest';
import { ClaimMemory } from './claim-memory.js';

describe('ClaimMemory', () => {
  it('takes XINFO idle at face value for a consumer the reaper never claimed to', () => {
    const memory = new ClaimMemory();
    expect(memory.lastSeen('s/g', 'c1', 400, 10_000)).toBe(9_600);
  });

  it('does not count its own claim as a sign of life', () => {
    const memory = new ClaimMemory();
    // Seen at 5_000 by its own read; the reaper claims to it at 9_000, which resets XINFO idle.
    memory.recordClaim('s/g', 'c1', 9_000, 5_000);
    expect(memory.lastSeen('s/g', 'c1', 900, 9_900)).toBe(5_000);
  });

  it('counts the consumer’s own activity after the claim, and forgets the claim then', () => {
    const memory = new ClaimMemory();
    memory.recordClaim('s/g', 'c1', 9_000, 5_000);
    expect(memory.lastSeen('s/g', 'c1', 100, 9_600)).toBe(9_500);
    // Later, with the claim forgotten, idle is taken at face value again.
    expect(memory.lastSeen('s/g', 'c1', 100, 20_000)).toBe(19_900);
  });

  it('keeps the first real sighting across repeated claims', () => {
    const memory = new ClaimMemory();
    memory.recordClaim('s/g', 'c1', 9_000, 5_000);
    memory.recordClaim('s/g', 'c1', 12_000, 9_000);
    expect(memory.lastSeen('s/g', 'c1', 0, 12_000)).toBe(5_000);
  });

  it('keeps scopes apart and forgets deleted consumers', () => {
    const memory = new ClaimMemory();
    memory.recordClaim('a/g', 'c1', 9_000, 5_000);
    expect(memory.lastSeen('b/g', 'c1', 0, 9_500)).toBe(9_500);
    memory.forget('a/g', 'c1');
    expect(memory.lastSeen('a/g', 'c1', 0, 9_500)).toBe(9_500);
  });
});
