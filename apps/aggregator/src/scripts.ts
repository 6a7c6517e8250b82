import { defineLuaCommand, type RedisClient } from '@pipe/streams';

/** accumulate-batch result: counted, already acknowledged, late, dead-lettered, alert entry indexes. */
export type AccumulateReply = [number, number, number, number, number[]];
export type SealReply = ['sealed', string[]] | ['sealable', ''] | ['earlier-open' | 'pending', string];
export type PublishReply = ['published' | 'already' | 'superseded' | 'regressed', string];
export type TakeOverReply = ['taken' | 'already' | 'pending' | 'no-group', string | number];

export interface AggregatorScripts {
  accumulateBatch(keys: string[], args: (string | number)[]): Promise<AccumulateReply>;
  sealWindow(keys: string[], args: (string | number)[]): Promise<SealReply>;
  publishHour(keys: string[], args: (string | number)[]): Promise<PublishReply>;
  settleHour(keys: string[], args: (string | number)[]): Promise<number>;
  takeOver(keys: string[], args: (string | number)[]): Promise<TakeOverReply>;
}

/**
 * The aggregator's Lua scripts (see their headers in ./lua for KEYS, ARGV and replies). Each touches
 * one cluster slot: a partition's or the averages stream's.
 */
export function defineAggregatorScripts(redis: RedisClient): AggregatorScripts {
  const script = (name: string, file: string) =>
    defineLuaCommand(redis, name, new URL(`./lua/${file}`, import.meta.url));
  const accumulate = script('pipeAccumulateBatch', 'accumulate-batch-n.lua');
  const sealWindow = script('pipeSealWindow', 'seal-window-4.lua');
  const publish = script('pipePublishHour', 'publish-hour-2.lua');
  const settle = script('pipeSettleHour', 'settle-hour-4.lua');
  const takeOver = script('pipeTakeOver', 'take-over-2.lua');
  return {
    accumulateBatch: (keys, args) => accumulate(keys, args) as Promise<AccumulateReply>,
    sealWindow: (keys, args) => sealWindow(keys, args) as Promise<SealReply>,
    publishHour: (keys, args) => publish(keys, args) as Promise<PublishReply>,
    settleHour: (keys, args) => settle(keys, args) as Promise<number>,
    takeOver: (keys, args) => takeOver(keys, args) as Promise<TakeOverReply>,
  };
}
