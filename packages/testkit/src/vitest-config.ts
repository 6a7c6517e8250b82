import { defineConfig } from 'vitest/config';

/**
 * The vitest setup every package shares: `unit` runs pure `src/**\/*.test.ts`, `integration` runs
 * `test/**\/*.test.ts` against a real redis-server started once per run by the global setup.
 */
export function pipeVitestConfig({ integrationTimeoutMs = 60_000 }: { integrationTimeoutMs?: number } = {}) {
  return defineConfig({
    test: {
      projects: [
        { test: { name: 'unit', include: ['src/**/*.test.ts'] } },
        {
          test: {
            name: 'integration',
            include: ['test/**/*.test.ts'],
            globalSetup: ['@pipe/testkit/global-setup'],
            testTimeout: integrationTimeoutMs,
            hookTimeout: integrationTimeoutMs,
          },
        },
      ],
    },
  });
}
