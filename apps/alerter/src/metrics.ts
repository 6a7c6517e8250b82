import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the alerter. */
export class AlerterMetrics {
  readonly readingsApplied: Counter;
  readonly readingsSkipped: Counter;
  readonly positionsPruned: Counter;
  readonly undecodable: Counter;
  readonly transitions: Counter<'state'>;
  readonly leaseHolder: Gauge;
  readonly rules: Gauge;
  readonly reloads: Counter<'outcome'>;
  readonly batchSeconds: Histogram;
  readonly webhookDelivered: Counter;
  readonly webhookFailures: Counter;
  readonly webhookPending: Gauge;
  readonly webhookBacklog: Gauge;
  /** How the backlog is read at scrape time: set by the webhook delivery (only with --webhook). */
  private readBacklog: (() => Promise<number>) | undefined;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
    this.readingsApplied = counter('pipe_alerter_readings_applied_total', 'Readings applied to the rules');
    this.readingsSkipped = counter(
      'pipe_alerter_readings_skipped_total',
      'Redelivered readings skipped because their partition position had passed them',
    );
    this.positionsPruned = counter(
      'pipe_alerter_positions_pruned_total',
      'Partition positions forgotten because their partition is gone (expired or deleted)',
    );
    this.undecodable = counter(
      'pipe_alerter_entries_undecodable_total',
      'Partition entries that are not readings (the aggregator dead-letters them); acknowledged unapplied',
    );
    this.transitions = new Counter({
      name: 'pipe_alerter_transitions_total',
      help: 'Alert transitions written to the alerts stream, by state (firing, resolved)',
      labelNames: ['state'],
      registers: [registry],
    });
    this.leaseHolder = gauge('pipe_alerter_lease_holder', '1 while this instance holds the lease and reads');
    this.rules = gauge('pipe_alerter_rules', 'Rules in force');
    this.reloads = new Counter({
      name: 'pipe_alerter_rule_reloads_total',
      help: 'Rules file reloads on SIGHUP, by outcome (applied, refused)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.batchSeconds = new Histogram({
      name: 'pipe_alerter_batch_duration_seconds',
      help: "Time to apply one read's batches, taking the previous commit's answer (a backlog's commits overlap the next batch)",
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2],
      registers: [registry],
    });
    this.webhookDelivered = counter(
      'pipe_alerter_webhook_delivered_total',
      'Transitions the webhook answered 2xx for (then acknowledged)',
    );
    this.webhookFailures = counter(
      'pipe_alerter_webhook_failures_total',
      'Webhook calls that failed or answered other than 2xx (retried with backoff)',
    );
    this.webhookPending = gauge(
      'pipe_alerter_webhook_undelivered',
      'Transitions in hand not yet answered 2xx by the webhook',
    );
    const metrics = this;
    this.webhookBacklog = new Gauge({
      name: 'pipe_alerter_webhook_backlog',
      help: 'Transitions of the alerts stream the webhook has not acknowledged (lag and pending of its group); read at scrape time',
      registers: [registry],
      async collect() {
        const read = metrics.readBacklog;
        if (!read) return;
        // Redis down at scrape time: no figure rather than a failed /metrics or a stale one.
        await read().then(
          (backlog) => this.set(backlog),
          () => this.reset(),
        );
      },
    });
  }

  /** Reads the webhook's backlog at each scrape from now on. */
  watchWebhookBacklog(read: () => Promise<number>): void {
    this.readBacklog = read;
  }
}
