import { describe, expect, it } from 'vitest';
import { parseWindowSize } from '@pipe/streams';
import { averageOf, type HourTotals, stddevOf, sumHourTotals, windowAverageOf } from './hour-totals.js';

const HOUR = Date.UTC(2026, 2, 14, 13);

describe('sumHourTotals', () => {
  it('is undefined when no partition holds a reading of the hour', () => {
    expect(sumHourTotals([])).toBeUndefined();
    expect(
      sumHourTotals([{ partition: 'p0', hash: ['n', '0', 'sum', '0', 'devices', '0'] }]),
    ).toBeUndefined();
  });

  it('sums the shards of a day, keeping the bounds’ own text and counting a device in two shards once', () => {
    const totals = sumHourTotals([
      {
        partition: 's0',
        hash: [
          'n',
          '2',
          'sum',
          '19.5',
          'min',
          '9.5',
          'max',
          '10',
          'hn',
          '1',
          'hsum',
          '40',
          'devices',
          '2',
          'd:a',
          '1',
          'd:b',
          '1',
        ],
      },
      { partition: 'empty', hash: [] },
      {
        partition: 's1',
        hash: [
          'n',
          '3',
          'sum',
          '300',
          'min',
          '90.0',
          'max',
          '110.50',
          'devices',
          '2',
          'd:b',
          '2',
          'd:c',
          '1',
        ],
      },
    ]);
    expect(totals).toEqual({
      n: 5,
      sum: 319.5,
      humidityN: 1,
      humiditySum: 40,
      // Compared as numbers ('10' > '9.5'), kept as written.
      min: '9.5',
      max: '110.50',
      devices: 3,
      sq: 0,
      sources: ['s0', 's1'],
    });
  });

  it('takes the device count of settled totals, which no longer list their devices', () => {
    const totals = sumHourTotals([
      {
        partition: 's0',
        hash: ['n', '4', 'sum', '200', 'min', '40', 'max', '60', 'devices', '3', 'settled', '1'],
      },
      {
        partition: 's1',
        hash: ['n', '1', 'sum', '50', 'min', '50', 'max', '50', 'devices', '1', 'd:z', '1'],
      },
    ]);
    expect(totals).toMatchObject({ n: 5, devices: 4, sources: ['s0', 's1'] });
  });
});

describe('averageOf', () => {
  const totals: HourTotals = {
    n: 3,
    sum: 10,
    humidityN: 2,
    humiditySum: 81,
    min: '2.5',
    max: '4.25',
    devices: 2,
    sq: 0,
    sources: ['p'],
  };

  it('is the exact quotient with the hour’s UTC labels, as the codec writes it', () => {
    expect(averageOf(totals, HOUR)).toEqual({
      hourStart: HOUR,
      date: '2026/03/14',
      hour: 13,
      average_temp_f: 10 / 3,
      num_observations: 3,
      min_temp_f: 2.5,
      max_temp_f: 4.25,
      devices: 2,
      average_humidity: 40.5,
    });
  });

  it('has no humidity when no reading of the hour had one', () => {
    expect(averageOf({ ...totals, humidityN: 0, humiditySum: 0 }, HOUR).average_humidity).toBeUndefined();
  });
});

describe('windows of several sizes', () => {
  const MINUTE = Date.UTC(2026, 2, 14, 13, 7);

  it('sums squares and takes the first and last times over the partitions', () => {
    const totals = sumHourTotals([
      {
        partition: 's0',
        hash: [
          'n',
          '2',
          'sum',
          '30',
          'sq',
          '500',
          'min',
          '10',
          'max',
          '20',
          'f',
          String(MINUTE + 5),
          'l',
          String(MINUTE + 9),
          'devices',
          '1',
          'd:a',
          '1',
        ],
      },
      {
        partition: 's1',
        hash: [
          'n',
          '1',
          'sum',
          '30',
          'sq',
          '900',
          'min',
          '30',
          'max',
          '30',
          'f',
          String(MINUTE + 1),
          'l',
          String(MINUTE + 2),
          'devices',
          '1',
          'd:b',
          '1',
        ],
      },
    ])!;
    expect(totals).toMatchObject({ n: 3, sum: 60, sq: 1400, first: MINUTE + 1, last: MINUTE + 9 });
    // 10, 20, 30: mean 20, population variance (100 + 0 + 100) / 3.
    expect(stddevOf(totals)).toBeCloseTo(Math.sqrt(200 / 3), 12);
    expect(windowAverageOf(totals, MINUTE, parseWindowSize('1m'))).toEqual({
      start: MINUTE,
      size: '1m',
      date: '2026/03/14',
      hour: 13,
      average_temp_f: 20,
      num_observations: 3,
      min_temp_f: 10,
      max_temp_f: 30,
      devices: 2,
      average_humidity: undefined,
      stddev_temp_f: stddevOf(totals),
      first_ts: MINUTE + 1,
      last_ts: MINUTE + 9,
    });
  });

  it('never takes the root of a negative rounding', () => {
    // 0.1 three times: sq / n - mean² rounds below 0.
    const sum = 0.1 + 0.1 + 0.1;
    const sq = 0.1 * 0.1 * 3;
    expect(stddevOf({ n: 3, sum, sq })).toBeGreaterThanOrEqual(0);
    expect(stddevOf({ n: 3, sum, sq })).toBeLessThan(1e-8);
  });
});
