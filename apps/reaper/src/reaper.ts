import { Lease, type Logger, PipeError, type PipelineKeys, type RedisClient } from '@pipe/streams';
import type { ReaperMetrics } from './metrics.js';
import { type SweepPolicy, Sweeper } from './sweeper.js';

export interface ReaperOptions extends SweepPolicy {
  intervalMs: number;
  leaseTtlMs: number;
  /** This replica's name in the lease. */
  holder: string;
}

export interface ReaperDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  log: Logger;
  metrics?: ReaperMetrics;
}

/**
 * The reaper service: replicas compete for a lease; the holder sweeps every interval and renews the
 * lease in the background (every third of its time), the others retry taking it every tenth, so one
 * takes over at most about a lease time after the holder died. stop() ends the wait at once, lets a
 * sweep stop between two steps, and releases the lease for a standby to take at once.
 */
export class Reaper {
  private readonly lease: Lease;
  private readonly sweeper: Sweeper;
  private running: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private active = false;
  private lastRenewal = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly options: ReaperOptions,
    private readonly deps: ReaperDeps,
  ) {
    this.lease = new Lease(deps.redis, deps.keys.reaperLease, options.holder, options.leaseTtlMs);
    this.sweeper = new Sweeper(deps, options);
  }

  get isRunning(): boolean {
    return this.running !== undefined && !this.stopping;
  }

  /** True while this replica holds the lease. */
  get isActive(): boolean {
    return this.active;
  }

  run(): Promise<void> {
    if (this.running) throw new PipeError('reaper is already running', 'ALREADY_RUNNING');
    this.running = this.loop();
    return this.running;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.wake?.();
      await this.running?.catch(() => {});
    })();
    return this.stopped;
  }

  private async loop(): Promise<void> {
    const { log } = this.deps;
    log.info({ holder: this.options.holder, leaseTtlMs: this.options.leaseTtlMs }, 'reaper started');
    try {
      while (!this.stopping) {
        try {
          if (!this.active) await this.tryToLead();
          if (this.active) {
            const summary = await this.sweeper.sweep(() => this.active && !this.stopping);
            this.deps.metrics?.recordSweep(summary);
            const level =
              summary.reclaimed + summary.deadLettered + summary.deletedIds + summary.consumersRemoved > 0
                ? 'info'
                : 'debug';
            log[level]({ ...summary }, 'sweep finished');
          }
        } catch (err) {
          log.error({ err }, 'sweep failed; retrying');
        }
        await this.pause(this.active ? this.options.intervalMs : this.standbyPollMs);
      }
    } finally {
      this.stopRenewing();
      if (this.active) {
        this.setActive(false);
        await this.lease.release().catch((err) => log.warn({ err }, 'could not release lease'));
        log.info({ holder: this.options.holder }, 'lease released');
      }
    }
  }

  private get standbyPollMs(): number {
    return Math.max(50, Math.floor(this.options.leaseTtlMs / 10));
  }

  private async tryToLead(): Promise<void> {
    if (!(await this.lease.acquire())) return;
    this.lastRenewal = Date.now();
    this.setActive(true);
    this.deps.log.info({ holder: this.options.holder }, 'lease acquired; sweeping');
    this.renewTimer = setInterval(
      () => void this.renew(),
      Math.max(50, Math.floor(this.options.leaseTtlMs / 3)),
    );
  }

  private async renew(): Promise<void> {
    const { log } = this.deps;
    try {
      if (await this.lease.renew()) {
        this.lastRenewal = Date.now();
        return;
      }
      log.warn({ holder: this.options.holder }, 'lease lost to another replica; standing by');
    } catch (err) {
      // Redis unreachable: keep sweeping only while the lease we last renewed cannot have expired.
      if (Date.now() - this.lastRenewal < this.options.leaseTtlMs) return;
      log.warn(
        { err, holder: this.options.holder },
        'lease expired while redis was unreachable; standing by',
      );
    }
    this.stopRenewing();
    this.setActive(false);
  }

  private stopRenewing(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private setActive(active: boolean): void {
    this.active = active;
    this.deps.metrics?.leaseHolder.set(active ? 1 : 0);
  }

  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
