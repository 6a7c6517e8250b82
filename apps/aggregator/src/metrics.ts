import { Counter, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the aggregator; lag and pending gauges come from the reaper's status view. */
export class AggregatorMetrics {
  readonly consumed: Counter;
  readonly counted: Counter;
  readonly duplicates: Counter;
  readonly late: Counter;
  readonly deadLettered: Counter;
  readonly hoursPublished: Counter;
  readonly batchSeconds: Histogram;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
    this.consumed = counter('pipe_readings_consumed_total', 'Entries read from partitions');
    this.counted = counter(
      'pipe_readings_acknowledged_total',
      'Readings counted into an hour and acknowledged',
    );
    this.duplicates = counter(
      'pipe_readings_redelivered_total',
      'Redelivered entries skipped because already counted',
    );
    this.late = counter('pipe_readings_late_total', 'Readings routed to the late stream');
    this.deadLettered = counter(
      'pipe_entries_dead_lettered_total',
      'Undecodable entries moved to the dead-letter stream',
    );
    this.hoursPublished = counter('pipe_hours_published_total', 'Hourly averages published');
    this.batchSeconds = new Histogram({
      name: 'pipe_batch_duration_seconds',
      help: 'Time to count one read batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
  }

  recordBatch(entries: number, counted: number, duplicates: number, late: number, dead: number): void {
    this.consumed.inc(entries);
    this.counted.inc(counted);
    this.duplicates.inc(duplicates);
    this.late.inc(late);
    this.deadLettered.inc(dead);
  }
}
