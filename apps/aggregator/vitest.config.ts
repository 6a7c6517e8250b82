import { pipeVitestConfig } from '@pipe/testkit/vitest';

// The cores are built in-process by test/ (test/in-process.ts), so their lines count; main.ts runs
// only in child processes and counts as not run.
export default pipeVitestConfig({ minLineCoverage: 85 });
