import { pipeVitestConfig } from '@pipe/testkit/vitest';

// Lines of src/ the tests run in this process (the cores and commands, built in the tests); main.ts,
// which only wires them to flags and signals, runs in child processes and counts as uncovered.
export default pipeVitestConfig({ minLineCoverage: 85 });
