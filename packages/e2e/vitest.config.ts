import { pipeVitestConfig } from '@pipe/testkit/vitest';

// Each file starts its own processes (and most their own redis-servers) and spends its time waiting on
// them: three files at once take about a third of the time, with the cores still not full.
export default pipeVitestConfig({ maxWorkers: 3 });
