import { pipeVitestConfig } from '@pipe/testkit/vitest';

export default pipeVitestConfig({ minLineCoverage: 85 });
