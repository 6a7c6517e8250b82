import { describe, expect, it } from 'vitest';
import { onceConfig, runConfig } from './config.js';

describe('reaper config', () => {
  it('defaults to the issue’s figures and takes durations from env, flags winning', () => {
    const config = runConfig.read({ minIdle: '2m' }, { REAPER_MIN_IDLE: '30s', REAPER_LEASE_TTL: '5s' });
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
    let message = '';
    try {
      runConfig.read({ minIdle: 'soon', maxDeliveries: '0', interval: 'x', leaseTtl: '10ms' }, {});
    } catch (err) {
      message = (err as Error).message;
    }
    for (const problem of ['minIdle: not a duration', 'maxDeliveries', 'interval: not a duration'])
      expect(message).toContain(problem);
    expect(message).toContain('leaseTtl: must be at least 300ms');
  });

  it('gives one-shot commands --give-up-after, 10 s unless GIVE_UP_AFTER says otherwise', () => {
    expect(onceConfig.read({}, {}).giveUpAfter).toBe(10_000);
    expect(onceConfig.read({}, { GIVE_UP_AFTER: '2s' }).giveUpAfter).toBe(2_000);
  });
});
