import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { AggregatorMetrics } from './metrics.js';

it('adds one counted batch to every reading counter', async () => {
  const registry = new Registry();
  const metrics = new AggregatorMetrics(registry);
  metrics.recordBatch(10, 5, 2, 1, 2);
  metrics.recordBatch(1, 1, 0, 0, 0);
  const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]!.value;
  expect({
    consumed: await value('pipe_readings_consumed_total'),
    counted: await value('pipe_readings_acknowledged_total'),
    redelivered: await value('pipe_readings_redelivered_total'),
    late: await value('pipe_readings_late_total'),
    deadLettered: await value('pipe_entries_dead_lettered_total'),
  }).toEqual({ consumed: 11, counted: 6, redelivered: 2, late: 1, deadLettered: 2 });
});
