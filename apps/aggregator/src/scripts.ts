import { readFileSync } from 'node:fs';
import type { RedisClient } from '@pipe/streams';

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

/** accumulate-batch result: counted, already acknowledged, late, dead-lettered, alert entry indexes. */
export type AccumulateReply = [number, number, number, number, number[]];
export type CloseStatus = 'published' | 'not-due' | 'pending' | 'earlier-open' | 'empty' | 'superseded';

export interface AggregatorScripts {
  accumulateBatch(keys: string[], args: (string | number)[]): Promise<AccumulateReply>;
  closeHour(keys: string[], args: (string | number)[]): Promise<[CloseStatus, string]>;
}

/** Registers the aggregator's Lua scripts (EVALSHA with EVAL fallback, per node on a cluster). */
export function defineAggregatorScripts(redis: RedisClient): AggregatorScripts {
  redis.defineCommand('pipeAccumulateBatch', { lua: lua('accumulate-batch-n') });
  redis.defineCommand('pipeCloseHour', { lua: lua('close-hour-n') });
  const call = (name: string, keys: string[], args: (string | number)[]) =>
    (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!(keys.length, ...keys, ...args);
  return {
    accumulateBatch: (keys, args) => call('pipeAccumulateBatch', keys, args) as Promise<AccumulateReply>,
    closeHour: (keys, args) => call('pipeCloseHour', keys, args) as Promise<[CloseStatus, string]>,
  };
}
