import { describe, expect, it } from 'vitest';
import { whyInvalid, whyOutsideRetention, whyTooFarAhead } from './reading-check.js';

const DAY = 86_400_000;
const now = Date.UTC(2026, 0, 10, 12);

describe('whyOutsideRetention and whyInvalid', () => {
  it('accepts a reading inside the retention window', () => {
    expect(
      whyOutsideRetention({ device: 'sensor-001', ts: now - DAY, temp_f: 50 }, now, 2 * DAY),
    ).toBeUndefined();
  });

  it('refuses a reading whose time plus retention is not in the future', () => {
    const reason = whyOutsideRetention({ device: 'sensor-001', ts: now - 2 * DAY, temp_f: 50 }, now, 2 * DAY);
    expect(reason).toMatch(/older than the retention of 2d; it would expire as it is written/);
    expect(
      whyOutsideRetention({ device: 'sensor-001', ts: now - 2 * DAY + 1, temp_f: 50 }, now, 2 * DAY),
    ).toBeUndefined();
  });

  it('names the field of a reading that breaks the schema', () => {
    expect(whyInvalid({ device: 'bad device', ts: now, temp_f: 50 })).toMatch(/^device: /);
    expect(whyInvalid({ device: 'd', ts: now, temp_f: Number.NaN })).toMatch(/^temp_f: /);
    expect(whyInvalid({ device: 'd', ts: now, temp_f: 1, humidity: 101 })).toMatch(/^humidity: /);
  });
});

describe('whyTooFarAhead', () => {
  it('allows a day of clock skew and refuses more, e.g. microseconds taken for milliseconds', () => {
    expect(whyTooFarAhead({ device: 'd', ts: now + DAY, temp_f: 1 }, now)).toBeUndefined();
    expect(whyTooFarAhead({ device: 'd', ts: now + DAY + 1, temp_f: 1 }, now)).toMatch(
      /more than 1d in the future/,
    );
    const micros = whyTooFarAhead({ device: 'd', ts: now * 1000, temp_f: 1 }, now);
    expect(micros).toMatch(/^ts: \+\d{6}-.* is more than 1d/);
    const beyondDates = whyTooFarAhead({ device: 'd', ts: 1e16, temp_f: 1 }, now);
    expect(beyondDates).toMatch(/^ts: 10000000000000000 is more than 1d/);
  });
});
