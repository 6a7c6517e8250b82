import { defineConfig } from 'vitest/config';

export interface PipeVitestOptions {
  /** Per-test and per-hook limit of the integration project. */
  integrationTimeoutMs?: number;
  /**
   * The least share of `src/` lines the package's tests must run in-process (`vitest run --coverage`
   * fails below it). Unset: coverage is reported, not enforced.
   */
  minLineCoverage?: number;
  /**
   * Test files run at once. Vitest's default is one less than the cores (one file at a time on this
   * 2-core machine), right for suites that keep the cores busy; suites that mostly wait on processes
   * and servers they start (end to end, faults) finish sooner with more.
   */
  maxWorkers?: number;
}

/**
 * The vitest setup every package shares: `unit` runs pure `src/**\/*.test.ts`, `integration` runs
 * `test/**\/*.test.ts` against a real redis-server started once per run by the global setup, and
 * `browser` the `*.browser.test.ts` among them (a package's `test` script leaves it to `test:system`). With
 * `--coverage`, v8 measures which lines of `src/` the tests ran in this process (child processes do
 * not count) and writes `coverage/coverage-summary.json` for the per-package report.
 */
export function pipeVitestConfig({
  integrationTimeoutMs = 60_000,
  minLineCoverage,
  maxWorkers,
}: PipeVitestOptions = {}) {
  return defineConfig({
    test: {
      ...(maxWorkers === undefined ? {} : { maxWorkers }),
      coverage: {
        provider: 'v8',
        include: ['src/**/*.ts'],
        exclude: ['src/**/*.test.ts', 'src/**/*.d.ts'],
        reporter: ['text-summary', 'json-summary'],
        ...(minLineCoverage === undefined ? {} : { thresholds: { lines: minLineCoverage } }),
      },
      projects: [
        { test: { name: 'unit', include: ['src/**/*.test.ts'] } },
        {
          test: {
            name: 'integration',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.browser.test.ts', 'test/**/*.system.test.ts'],
            globalSetup: ['@pipe/testkit/global-setup'],
            testTimeout: integrationTimeoutMs,
            hookTimeout: integrationTimeoutMs,
          },
        },
        {
          // A real browser (Debian's chromium): part of `pnpm test:system`, not of the inner loop.
          test: {
            name: 'browser',
            include: ['test/**/*.browser.test.ts'],
            globalSetup: ['@pipe/testkit/global-setup'],
            testTimeout: integrationTimeoutMs,
            hookTimeout: integrationTimeoutMs,
          },
        },
        {
          // Process tests that take long (kill -9 loops, restarts of a broker, outages of seconds): part
          // of `pnpm test:system`, not of the inner loop.
          test: {
            name: 'system',
            include: ['test/**/*.system.test.ts'],
            globalSetup: ['@pipe/testkit/global-setup'],
            testTimeout: integrationTimeoutMs,
            hookTimeout: integrationTimeoutMs,
          },
        },
      ],
    },
  });
}
