import { type AppProcess, holdsEntries, startAggregator, startReaper, ViewerProcess } from '@pipe/fixtures';
import type { HourlyAverage, RedisClient } from '@pipe/streams';
import { waitFor } from '@pipe/testkit';
import type { Target } from './target.js';

/** Batches of 500 and reads and pending checks every 500 ms: recovery shows within seconds. */
const LIVE_AGGREGATOR = ['--count', '500', '--block-ms', '500ms', '--pending-check', '500ms'];
// An entry idle 3 s is stale: a live aggregator reads every 500 ms and re-reads its own as often.
const QUICK_REAPER = ['--interval', '500ms', '--lease-ttl', '3s', '--min-idle', '3s', '--live-within', '3s'];

/** `pipe-aggregator run` as a live aggregator named `name`, quick to read and to recover. */
export function startLiveAggregator(name: string, flags: string[]): AppProcess {
  return startAggregator(['run', '--consumer', name, ...LIVE_AGGREGATOR, ...flags]);
}

/** `pipe-reaper run` sweeping every 500 ms, taking entries idle 3 s from consumers not seen for 3 s. */
export function startQuickReaper(flags: string[]): AppProcess {
  return startReaper(['run', ...QUICK_REAPER, ...flags]);
}

/**
 * The long-running services of a pipeline, as deployed: live aggregators (short reads and checks, so
 * that recovery shows within seconds), the reaper, and a viewer following the averages.
 */
export class Services {
  readonly aggregators = new Map<string, AppProcess>();
  readonly reaper: AppProcess;
  readonly viewer: ViewerProcess;

  constructor(
    private readonly target: Target,
    private readonly redis: RedisClient,
    aggregatorNames: string[],
  ) {
    for (const name of aggregatorNames) this.aggregators.set(name, this.startAggregator(name));
    this.reaper = startQuickReaper(target.flags);
    this.viewer = ViewerProcess.start(['tail', '--follow', '--json', ...target.flags]);
  }

  private startAggregator(name: string): AppProcess {
    return startLiveAggregator(name, ['--idle-close', '2s', ...this.target.flags]);
  }

  /**
   * Kills an aggregator with SIGKILL at a moment it holds delivered, unacknowledged entries (starting it
   * again to retry when it finished its batch just before the signal) and leaves it dead: only the
   * reaper can hand those entries to a live aggregator. Returns the attempts it took.
   */
  async crashHoldingEntries(name: string, partitions: string[], timeoutMs = 30_000): Promise<number> {
    const holds = () => holdsEntries(this.redis, partitions, 'aggregator', name);
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      // Every 5 ms: a batch is held for moments only.
      await waitFor(`${name} to hold entries`, holds, deadline - Date.now(), 5);
      const victim = this.aggregators.get(name)!;
      victim.kill('SIGKILL');
      await victim.exited;
      if (await holds()) return attempt;
      this.aggregators.set(name, this.startAggregator(name));
    }
    throw new Error(`${name} was not caught holding entries within ${timeoutMs} ms`);
  }

  /** Every average the viewer printed, in order. */
  viewerAverages(): HourlyAverage[] {
    return this.viewer.lines('stdout').map((l) => JSON.parse(l) as HourlyAverage);
  }

  /** SIGTERM to every running service, as an operator stops them; their exit codes by name. */
  async stop(): Promise<Record<string, number | null>> {
    const codes: Record<string, number | null> = {};
    const running = [...this.aggregators, ['reaper', this.reaper] as const].filter(
      ([, p]) => p.child.exitCode === null && p.child.signalCode === null,
    );
    await Promise.all([
      ...running.map(async ([name, p]) => {
        p.kill('SIGTERM');
        codes[name] = (await p.exited).code;
      }),
      this.viewer.stop().then((code) => {
        codes.viewer = code;
      }),
    ]);
    return codes;
  }

  /** SIGKILL to whatever still runs (after a failed test). */
  kill(): void {
    for (const p of [...this.aggregators.values(), this.reaper]) p.kill('SIGKILL');
    this.viewer.child.kill('SIGKILL');
  }
}
