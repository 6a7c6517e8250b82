import { pipeVitestConfig } from '@pipe/testkit/vitest';

// Each fault test runs whole pipelines for tens of seconds (the soak for minutes); they set their own
// limits. Three files at once: the suite mostly waits on the processes and servers it starts and kills
// (the failover file waits about five minutes on cluster elections), and the soak alone keeps one worker
// busy for about as long; with two, the other files queued behind them.
export default pipeVitestConfig({ integrationTimeoutMs: 120_000, maxWorkers: 3 });
