import { pipeVitestConfig } from '@pipe/testkit/vitest';

// The cores are built in-process by test/ (test/in-process.ts), so their lines count; main.ts and
// config.ts run only in child processes and count as not run.
export default pipeVitestConfig({ minLineCoverage: 85 });
