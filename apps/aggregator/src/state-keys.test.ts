import { calculateSlot, PipelineKeys, parseWindowSize } from '@pipe/streams';
import { expect, it } from 'vitest';
import { stateAfterPartitionMs } from './window-closer.js';
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

it('keeps the 1h tier’s names in every layout and names the other sizes’ state after them', () => {
  const keys = new PipelineKeys('temps');
  const state = new AggregatorStateKeys(keys);
  const partition = keys.partitionKeyFor(HOUR);
  const [minute, hour] = [parseWindowSize('1m'), parseWindowSize('1h')];
  expect(state.sealedField(hour)).toBe('sealed');
  expect(state.openWindows(partition, hour)).toBe(state.openHours(partition));
  expect(state.window(partition, hour, HOUR)).toBe(state.hour(partition, HOUR));
  expect(state.settledWindows(partition, hour)).toBe(state.settledHours(partition));
  expect(state.windowSources(hour, HOUR)).toBe(state.sources(HOUR));
  expect(state.sealedField(minute)).toBe('sealed:1m');
  expect(state.openWindows(partition, minute)).toBe('{temps:20260314}:open:1m');
  expect(state.window(partition, minute, HOUR)).toBe(`{temps:20260314}:win:1m:${HOUR}`);
  expect(state.settledWindows(partition, minute)).toBe('{temps:20260314}:settled:1m');
  expect(state.windowSources(minute, HOUR)).toBe(`{temps:averages:1m}:sources:${HOUR}`);
  // A script may touch one slot: the fleet stream of a size and its sources share it.
  expect(calculateSlot(state.windowSources(minute, HOUR))).toBe(calculateSlot(keys.averagesFor(minute)));
});
