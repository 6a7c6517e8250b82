import { pipeVitestConfig } from '@pipe/testkit/vitest';

// The release check installs Verdaccio on its first run (about 25 s from a warm npm cache, a minute
// from a cold one) before it versions, builds, publishes and installs.
export default pipeVitestConfig({ integrationTimeoutMs: 300_000 });
