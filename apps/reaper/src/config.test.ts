import { configFrom } from '@pipe/service';
import { describe, expect, it } from 'vitest';
import { RUN_ENV, runSchema } from './config.js';

describe('reaper config', () => {
  it('defaults to the issue’s figures and takes durations from env, flags winning', () => {
    const config = configFrom(runSchema, { minIdle: '2m' }, RUN_ENV, {
      REAPER_MIN_IDLE: '30s',
      REAPER_LEASE_TTL: '5s',
    });
    expect(config).toMatchObject({
      minIdle: 120_000,
      maxDeliveries: 5,
      interval: 5_000,
      consumerTtl: 3_600_000,
      liveWithin: 15_000,
      leaseTtl: 5_000,
      prefix: 'temps',
    });
  });

  it('lists every problem at once', () => {
    expect(() =>
      configFrom(
        runSchema,
        { minIdle: 'soon', maxDeliveries: '0', interval: 'x', leaseTtl: '10ms' },
        RUN_ENV,
        {},
      ),
    ).toThrow(/minIdle[\s\S]*maxDeliveries[\s\S]*interval[\s\S]*leaseTtl: must be at least 300ms/);
  });
});
