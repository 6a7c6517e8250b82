import {
  type ConsumerBatch,
  decodeReading,
  fieldsToObject,
  hourWindowOf,
  type PipelineKeys,
  type Reading,
} from '@pipe/streams';
import type { AggregatorStateKeys } from './state-keys.js';

export interface BatchContext {
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  /** averages, late, dead-letter, alerts stream keys. */
  outputs: { averages: string; late: string; deadLetters: string; alerts: string };
  group: string;
  consumer: string;
  alertAbove: number | undefined;
  now: number;
}

export interface AccumulateCall {
  keys: string[];
  args: (string | number)[];
  /** The decoded reading of each entry (undefined for an undecodable one), in entry order. */
  readings: (Reading | undefined)[];
}

/**
 * Decodes one partition's batch (in one place: the codecs) and lays it out as the arguments of
 * accumulate-batch-n.lua. Undecodable entries travel as dead letters with their reason.
 */
export function accumulateCall(batch: ConsumerBatch, ctx: BatchContext): AccumulateCall {
  const { stream, entries } = batch;
  const keys = [
    stream,
    ctx.state.progress(stream),
    ctx.state.openHours(stream),
    ctx.outputs.averages,
    ctx.outputs.late,
    ctx.outputs.deadLetters,
    ctx.outputs.alerts,
  ];
  const hourIndex = new Map<number, number>();
  const args: (string | number)[] = [ctx.group, ctx.consumer, ctx.now, ctx.alertAbove ?? '', entries.length];
  const readings: (Reading | undefined)[] = [];
  for (const { id, fields } of entries) {
    const decoded = fields.length === 0 ? undefined : decodeReading(id, fields);
    if (!decoded?.ok) {
      const reason = decoded ? decoded.error.message : 'entry no longer exists (deleted or trimmed)';
      args.push('x', id, reason, JSON.stringify(fieldsToObject(fields)), '', '', '');
      readings.push(undefined);
      continue;
    }
    const reading = decoded.value;
    if (ctx.keys.partitionKeyFor(reading.ts) !== stream) {
      // Every hour must live in exactly one partition's state, or it could be published twice.
      const reason = `event time ${new Date(reading.ts).toISOString()} is outside partition ${stream}`;
      args.push('x', id, reason, JSON.stringify(fieldsToObject(fields)), '', '', '');
      readings.push(undefined);
      continue;
    }
    const { start } = hourWindowOf(reading.ts);
    let index = hourIndex.get(start);
    if (index === undefined) {
      keys.push(ctx.state.hour(stream, start));
      index = keys.length; // KEYS are 1-based in Lua
      hourIndex.set(start, index);
    }
    args.push('r', id, index, reading.device, reading.ts, reading.temp_f, reading.humidity ?? '');
    readings.push(reading);
  }
  return { keys, args, readings };
}
