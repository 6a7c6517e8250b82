import { pipeVitestConfig } from '@pipe/testkit/vitest';

// main.ts only wires flags, signals and metrics to the cores and runs in child processes, where v8
// does not measure: it stays in the report, uncovered, inside this margin.
export default pipeVitestConfig({ minLineCoverage: 85 });
