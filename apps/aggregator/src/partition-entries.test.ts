import { describe, expect, it } from 'vitest';
import { checkedEntries } from './partition-entries.js';

const DAY = Date.UTC(2026, 11, 3);
const entry = (id: string, fields: Record<string, string>) => ({ id, fields: Object.entries(fields).flat() });

describe('checkedEntries', () => {
  it('passes a reading of the partition’s day, and names the poison in the others', () => {
    const checked = [
      ...checkedEntries('temps:20261203', DAY, [
        entry(`${DAY + 1000}-0`, { device: 'a', ts: String(DAY + 1000), temp_f: '70.5' }),
        entry(`${DAY + 2000}-0`, { device: 'a', ts: String(DAY + 2000), temp_f: 'warm' }),
        entry(`${DAY + 3000}-0`, { device: 'a', ts: String(DAY - 1), temp_f: '70' }),
        entry(`${DAY + 4000}-0`, { device: 'a', ts: String(DAY + 86_400_000), temp_f: '70' }),
      ]),
    ];
    expect(checked[0]).toMatchObject({ reading: { device: 'a', ts: DAY + 1000, temp_f: 70.5 } });
    expect(checked[1]).toMatchObject({ id: `${DAY + 2000}-0`, poison: expect.stringMatching(/temp_f/) });
    expect(checked[2]).toMatchObject({
      poison: 'event time 2026-12-02T23:59:59.999Z is outside partition temps:20261203',
    });
    expect(checked[3]).toMatchObject({
      poison: 'event time 2026-12-04T00:00:00.000Z is outside partition temps:20261203',
      fields: ['device', 'a', 'ts', String(DAY + 86_400_000), 'temp_f', '70'],
    });
  });
});
