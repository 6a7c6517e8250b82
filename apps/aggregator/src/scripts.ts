import { defineLuaCommand, type RedisClient } from '@pipe/streams';

/**
 * accumulate-batch result: counted, already acknowledged, late, dead-lettered, and the finest windows
 * (1-based) that came with expected device totals and were merged by the script instead, or not written
 * (DeviceTotalsCache forgets them).
 */
export type AccumulateReply = [number, number, number, number, number[]];
export type SealReply = ['sealed', string[]] | ['sealable', ''] | ['earlier-open' | 'pending', string];
export type PublishReply = ['published' | 'already' | 'superseded' | 'regressed', string];
/** publish-device-windows result per device: 1 published, 0 already, -1 superseded. */
export type DevicePublishReply = (1 | 0 | -1)[];
export type TakeOverReply = ['taken' | 'already' | 'pending' | 'no-group', string | number];

export interface AggregatorScripts {
  accumulateBatch(keys: string[], args: (string | number | Buffer)[]): Promise<AccumulateReply>;
  sealWindow(keys: string[], args: (string | number)[]): Promise<SealReply>;
  publishHour(keys: string[], args: (string | number)[]): Promise<PublishReply>;
  settleHour(keys: string[], args: (string | number)[]): Promise<number>;
  takeOver(keys: string[], args: (string | number)[]): Promise<TakeOverReply>;
  publishDeviceWindows(keys: string[], args: (string | number)[]): Promise<DevicePublishReply>;
  indexDevices(keys: string[], args: (string | number)[]): Promise<number>;
}

/**
 * The aggregator's Lua scripts (see their headers in ./lua for KEYS, ARGV and replies). Each touches
 * one cluster slot: a partition's or the averages stream's.
 */
export function defineAggregatorScripts(redis: RedisClient): AggregatorScripts {
  const script = (name: string, file: string, buffers = false) =>
    defineLuaCommand(redis, name, new URL(`./lua/${file}`, import.meta.url), { buffers });
  const accumulate = script('pipeAccumulateBatch', 'accumulate-batch-n.lua');
  const sealWindow = script('pipeSealWindow', 'seal-window-n.lua', true);
  const publish = script('pipePublishHour', 'publish-hour-2.lua');
  const settle = script('pipeSettleHour', 'settle-window-n.lua');
  const takeOver = script('pipeTakeOver', 'take-over-2.lua');
  const publishDevices = script('pipePublishDeviceWindows', 'publish-device-windows-n.lua');
  const indexDevices = script('pipeIndexDevices', 'index-devices-2.lua');
  return {
    accumulateBatch: (keys, args) => accumulate(keys, args) as Promise<AccumulateReply>,
    sealWindow: async (keys, args) =>
      sealReplyOf((await sealWindow(keys, args)) as [Buffer, Buffer | Buffer[]]),
    publishHour: (keys, args) => publish(keys, args) as Promise<PublishReply>,
    settleHour: (keys, args) => settle(keys, args) as Promise<number>,
    takeOver: (keys, args) => takeOver(keys, args) as Promise<TakeOverReply>,
    publishDeviceWindows: (keys, args) => publishDevices(keys, args) as Promise<DevicePublishReply>,
    indexDevices: (keys, args) => indexDevices(keys, args) as Promise<number>,
  };
}

/**
 * seal-window-n.lua's reply, read as Buffers: text but for each device's packed totals (--per-device),
 * which stay binary, as latin1 strings (one char per byte; see device-windows.ts).
 */
function sealReplyOf([status, detail]: [Buffer, Buffer | Buffer[]]): SealReply {
  if (!Array.isArray(detail)) return [status.toString(), detail.toString()] as SealReply;
  const hash: string[] = [];
  for (let i = 0; i < detail.length; i += 2) {
    const field = detail[i]!.toString();
    const value = detail[i + 1]!;
    hash.push(field, field.startsWith('d:') && value[0] === 0 ? value.toString('latin1') : value.toString());
  }
  return ['sealed', hash];
}
