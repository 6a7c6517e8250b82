import { expect, it } from 'vitest';
import { aggregatorConfigSchema } from '../src/config.js';
import { DEFAULT_SETTINGS } from './in-process.js';

// The in-process tests state only what their scenario is about and take the rest from
// DEFAULT_SETTINGS: it must stay what a process started without flags runs with, or they would test
// another aggregator than the one deployed.
it('builds in-process cores with the settings pipe-aggregator run has without flags, but a fixed consumer name', () => {
  const { consumer: _consumer, giveUpAfter, ...settings } = DEFAULT_SETTINGS;
  const defaults = aggregatorConfigSchema.parse({});
  expect(
    Object.fromEntries(Object.keys(settings).map((name) => [name, defaults[name as keyof typeof defaults]])),
  ).toEqual(settings);
  // --give-up-after's default, declared with the connection flags.
  expect(giveUpAfter).toBe(10_000);
});
