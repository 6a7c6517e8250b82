import { defineLuaCommand, type RedisClient } from '@pipe/streams';

/** accumulate-batch result: counted, already acknowledged, late, dead-lettered, alert entry indexes. */
export type AccumulateReply = [number, number, number, number, number[]];
export type CloseStatus = 'published' | 'not-due' | 'pending' | 'earlier-open' | 'empty' | 'superseded';

export interface AggregatorScripts {
  accumulateBatch(keys: string[], args: (string | number)[]): Promise<AccumulateReply>;
  closeHour(keys: string[], args: (string | number)[]): Promise<[CloseStatus, string]>;
}

/** The aggregator's Lua scripts (see their headers in ./lua for KEYS, ARGV and replies). */
export function defineAggregatorScripts(redis: RedisClient): AggregatorScripts {
  const accumulate = defineLuaCommand(
    redis,
    'pipeAccumulateBatch',
    new URL('./lua/accumulate-batch-n.lua', import.meta.url),
  );
  const close = defineLuaCommand(redis, 'pipeCloseHour', new URL('./lua/close-hour-n.lua', import.meta.url));
  return {
    accumulateBatch: (keys, args) => accumulate(keys, args) as Promise<AccumulateReply>,
    closeHour: (keys, args) => close(keys, args) as Promise<[CloseStatus, string]>,
  };
}
