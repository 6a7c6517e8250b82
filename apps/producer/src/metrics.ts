import { Counter, Histogram, type Registry } from 'prom-client';

/** What the writer reports as it goes; Prometheus when --metrics-port is set, nothing otherwise. */
export interface WriterMetrics {
  written(count: number): void;
  rejected(count: number): void;
  batchSeconds(seconds: number): void;
}

export const noMetrics: WriterMetrics = { written() {}, rejected() {}, batchSeconds() {} };

export function prometheusMetrics(registry: Registry): WriterMetrics {
  const written = new Counter({
    name: 'pipe_producer_readings_written_total',
    help: 'Readings written to partitions',
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'pipe_producer_readings_rejected_total',
    help: 'Readings refused (invalid, outside retention, out of order)',
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'pipe_producer_batch_seconds',
    help: 'Time from sending a partition batch to its reply, retries included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry],
  });
  return {
    written: (count) => written.inc(count),
    rejected: (count) => rejected.inc(count),
    batchSeconds: (seconds) => latency.observe(seconds),
  };
}
