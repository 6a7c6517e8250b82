import { DAY_MS, HOUR_MS } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { type PartitionProgress, watermarkOf } from './progress.js';

const DAY = Date.UTC(2026, 2, 14);

const at = (day: number, maxts: number | undefined, delivered = true): PartitionProgress => ({
  partition: `p${day}`,
  day,
  maxts,
  delivered,
  caughtUp: delivered,
  pending: 0,
});

describe('watermarkOf (stream time)', () => {
  it('is 0 before anything was counted', () => {
    expect(watermarkOf([])).toBe(0);
    expect(watermarkOf([at(DAY, undefined)])).toBe(0);
  });

  it('is the newest event time counted anywhere once every partition was delivered', () => {
    expect(watermarkOf([at(DAY, DAY + 5 * HOUR_MS), at(DAY + DAY_MS, DAY + DAY_MS + HOUR_MS)])).toBe(
      DAY + DAY_MS + HOUR_MS,
    );
  });

  it('is held back to what a partition with undelivered entries has reached', () => {
    // A backfill reading ten days at once must not close day one's hours because day ten was read.
    const progress = [at(DAY, DAY + 3 * HOUR_MS, false), at(DAY + 9 * DAY_MS, DAY + 9 * DAY_MS + HOUR_MS)];
    expect(watermarkOf(progress)).toBe(DAY + 3 * HOUR_MS);
  });

  it('is held back to its midnight by an undelivered partition with nothing counted yet', () => {
    const progress = [
      at(DAY, DAY + 20 * HOUR_MS),
      at(DAY + DAY_MS, undefined, false),
      at(DAY + 2 * DAY_MS, DAY + 2 * DAY_MS + 1),
    ];
    expect(watermarkOf(progress)).toBe(DAY + DAY_MS);
  });
});
