import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SweepSummary } from './sweeper.js';

/** Prometheus metrics of the reaper. */
export class ReaperMetrics {
  readonly reclaimed: Counter;
  readonly deadLettered: Counter;
  readonly deletedIds: Counter;
  readonly consumersRemoved: Counter;
  readonly failedGroups: Counter;
  readonly awaitingLiveConsumer: Gauge;
  readonly heldBack: Gauge;
  readonly removedEntries: Gauge;
  readonly expiringUncounted: Gauge;
  readonly leaseHolder: Gauge;
  readonly sweepSeconds: Histogram;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
    this.reclaimed = counter(
      'pipe_reaper_entries_reclaimed_total',
      'Stale pending entries claimed to a live consumer',
    );
    this.deadLettered = counter(
      'pipe_reaper_entries_dead_lettered_total',
      'Entries moved to the dead-letter stream after max deliveries',
    );
    this.deletedIds = counter(
      'pipe_reaper_deleted_ids_total',
      'Pending IDs whose entries had been deleted or trimmed',
    );
    this.consumersRemoved = counter(
      'pipe_reaper_consumers_removed_total',
      'Idle consumers with nothing pending deleted',
    );
    this.failedGroups = counter(
      'pipe_reaper_group_sweep_failures_total',
      'Group sweeps that failed (retried at the next sweep)',
    );
    this.awaitingLiveConsumer = gauge(
      'pipe_reaper_entries_awaiting_live_consumer',
      'Stale entries left in place at the last sweep because their group had no live consumer',
    );
    this.heldBack = gauge(
      'pipe_reaper_entries_held_back',
      'Entries delivered more than once kept with their owner at the last sweep, to be handed out one at a time',
    );
    this.removedEntries = gauge(
      'pipe_reaper_partition_entries_removed',
      'Entries removed from live partitions by XDEL, XTRIM or XADD MAXLEN/MINID at the last sweep (pipe never removes readings: they are lost)',
    );
    this.expiringUncounted = gauge(
      'pipe_reaper_uncounted_entries_expiring',
      'Entries not yet counted in partitions that expire within the hour, at the last sweep',
    );
    this.leaseHolder = gauge(
      'pipe_reaper_lease_holder',
      '1 while this replica holds the lease and sweeps, 0 on standby',
    );
    this.sweepSeconds = new Histogram({
      name: 'pipe_reaper_sweep_duration_seconds',
      help: 'Time of one sweep over every group of every live partition',
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    });
  }

  recordSweep(summary: SweepSummary): void {
    this.reclaimed.inc(summary.reclaimed);
    this.deadLettered.inc(summary.deadLettered);
    this.deletedIds.inc(summary.deletedIds);
    this.consumersRemoved.inc(summary.consumersRemoved);
    this.failedGroups.inc(summary.failedGroups);
    this.awaitingLiveConsumer.set(summary.awaitingLiveConsumer);
    this.heldBack.set(summary.heldBack);
    if (summary.complete) {
      this.removedEntries.set(summary.removedEntries);
      this.expiringUncounted.set(summary.expiringUncounted);
    }
    this.sweepSeconds.observe(summary.durationMs / 1000);
  }
}
