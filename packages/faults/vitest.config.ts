import { pipeVitestConfig } from '@pipe/testkit/vitest';

// Each fault test runs whole pipelines for tens of seconds (the soak for minutes); they set their own
// limits. Two files at once: the suite mostly waits on the processes and servers it starts and kills.
export default pipeVitestConfig({ integrationTimeoutMs: 120_000, maxWorkers: 2 });
