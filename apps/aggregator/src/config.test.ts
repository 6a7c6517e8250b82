import { ConfigError } from '@pipe/service';
import { describe, expect, it } from 'vitest';
import { runConfig } from './config.js';

describe('--alert-above', () => {
  it('is retired with a message pointing at pipe-alerter and its rules file, from a flag or the env', () => {
    for (const [flags, env] of [
      [{ alertAbove: '75' }, {}],
      [{}, { AGGREGATOR_ALERT_ABOVE: '75' }],
    ] as const) {
      let error: unknown;
      try {
        runConfig.read(flags, env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/retired: alerts are rules of pipe-alerter now/);
      expect((error as Error).message).toMatch(/pipe-alerter run --rules <file>/);
    }
    expect(runConfig.read({}, {}).alertAbove).toBeUndefined();
  });
});
