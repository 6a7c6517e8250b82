import { describe, expect, it } from 'vitest';
import { replayFields } from './dead-letter.js';
import type { DeadLetter } from './schemas.js';

const letter = (fields: Record<string, string>, id = '1735689600123-4'): DeadLetter => ({
  stream: 'temps:20250101',
  id,
  group: 'aggregator',
  consumer: 'c1',
  deliveries: 5,
  idle_ms: 60_000,
  reason: 'delivered 5 times without ack',
  fields,
  dead_at: 1735689700000,
});

describe('replayFields', () => {
  it('replays the original fields in their order', () => {
    expect(replayFields(letter({ device: 'd1', ts: '1735689600000', temp_f: '70.1' }))).toEqual([
      'device',
      'd1',
      'ts',
      '1735689600000',
      'temp_f',
      '70.1',
    ]);
  });

  it('adds ts from the original ID to an entry without one, which would otherwise take the new ID’s time', () => {
    expect(replayFields(letter({ temp_f: '70.1' }))).toEqual(['temp_f', '70.1', 'ts', '1735689600123']);
  });

  it('leaves the fields alone when the original ID carries no time', () => {
    expect(replayFields(letter({ temp_f: '70.1' }, 'not-an-id'))).toEqual(['temp_f', '70.1']);
  });
});
