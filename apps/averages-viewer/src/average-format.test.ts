import type { HourlyAverage } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { averageAsJsonLine, describeAverage, formatFahrenheit } from './average-format.js';

const hour13: HourlyAverage = {
  hourStart: Date.UTC(2027, 0, 1, 13),
  date: '2027/01/01',
  hour: 13,
  average_temp_f: 51.2666666,
  num_observations: 3600,
};

describe('describeAverage', () => {
  it('uses the reference consumer words with two decimals', () => {
    expect(describeAverage(hour13)).toBe(
      'Average temperature for 2027/01/01 at 13 was 51.27F (3600 observations).',
    );
  });

  it('adds min and max after the sentence when present', () => {
    expect(describeAverage({ ...hour13, min_temp_f: 48.1, max_temp_f: 55.019 })).toBe(
      'Average temperature for 2027/01/01 at 13 was 51.27F (3600 observations). min 48.10F max 55.02F',
    );
    expect(describeAverage({ ...hour13, max_temp_f: 60 })).toMatch(/observations\)\. max 60\.00F$/);
  });

  it('says observation for a single one', () => {
    expect(describeAverage({ ...hour13, num_observations: 1 })).toContain('(1 observation).');
  });
});

describe('formatFahrenheit', () => {
  it('rounds to two decimals and never prints a negative zero', () => {
    expect(formatFahrenheit(-0.001)).toBe('0.00');
    expect(formatFahrenheit(-3.456)).toBe('-3.46');
    expect(formatFahrenheit(100)).toBe('100.00');
  });
});

describe('averageAsJsonLine', () => {
  it('keeps full precision and every field', () => {
    const average = { ...hour13, min_temp_f: 48.123456789, devices: 3, average_humidity: 41.5 };
    expect(JSON.parse(averageAsJsonLine(average))).toEqual(average);
    expect(averageAsJsonLine(average)).not.toContain('\n');
  });
});
