import { pipeVitestConfig } from '@pipe/testkit/vitest';

// Each fault test runs whole pipelines for tens of seconds (the soak for minutes); they set their own limits.
export default pipeVitestConfig({ integrationTimeoutMs: 120_000 });
