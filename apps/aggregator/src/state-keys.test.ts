import { PipelineKeys } from '@pipe/streams';
import { expect, it } from 'vitest';
import { stateAfterPartitionMs } from './hour-closer.js';
import { AggregatorStateKeys } from './state-keys.js';

const HOUR = Date.UTC(2026, 2, 14, 13);

it('names each partition’s state beside it, in its cluster slot, and the owner and sources beside the averages', () => {
  const keys = new PipelineKeys('temps');
  const state = new AggregatorStateKeys(keys);
  const partition = keys.partitionKeyFor(HOUR);
  expect(partition).toBe('temps:20260314');
  expect(state.aggHash(partition)).toBe('{temps:20260314}:agg');
  expect(state.openHours(partition)).toBe('{temps:20260314}:open');
  expect(state.hour(partition, HOUR)).toBe(`{temps:20260314}:hour:${HOUR}`);
  expect(state.settledHours(partition)).toBe('{temps:20260314}:settled');
  expect(state.owner()).toBe('{temps:averages}:owner');
  expect(state.sources(HOUR)).toBe(`{temps:averages}:sources:${HOUR}`);
  // A shard carries its own hash tag, which its state keeps.
  const shard = keys.partitionKeyFor(HOUR, { index: 1, count: 3 });
  expect(state.aggHash(shard)).toBe(`${shard}:agg`);
});

it('keeps a partition’s agg state --keep-hours plus a week past the partition, as long as its published hours’ sources', () => {
  expect(stateAfterPartitionMs(120)).toBe((120 + 7 * 24) * 3_600_000);
});
