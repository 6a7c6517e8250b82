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

/** Idempotent figures of one hour of the batch (a redelivered reading cannot change them). */
interface HourBounds {
  min: number;
  max: number;
  devices: Set<string>;
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
  const bounds: HourBounds[] = [];
  const entryArgs: (string | number)[] = [];
  const readings: (Reading | undefined)[] = [];
  let maxts: number | undefined;
  const deadLetter = (id: string, reason: string, fields: string[]) => {
    entryArgs.push(id, 0, reason, JSON.stringify(fieldsToObject(fields)));
    readings.push(undefined);
  };
  for (const { id, fields } of entries) {
    if (fields.length === 0) {
      deadLetter(id, 'entry no longer exists (deleted or trimmed)', fields);
      continue;
    }
    const decoded = decodeReading(id, fields);
    if (!decoded.ok) {
      deadLetter(id, decoded.error.message, fields);
      continue;
    }
    const reading = decoded.value;
    if (ctx.keys.partitionKeyFor(reading.ts) !== stream) {
      // Every hour must live in exactly one partition's state, or it could be published twice.
      deadLetter(id, `event time ${new Date(reading.ts).toISOString()} is outside partition ${stream}`, fields);
      continue;
    }
    const { start } = hourWindowOf(reading.ts);
    let index = hourIndex.get(start);
    if (index === undefined) {
      keys.push(ctx.state.hour(stream, start));
      index = keys.length; // KEYS are 1-based in Lua
      hourIndex.set(start, index);
      bounds.push({ min: reading.temp_f, max: reading.temp_f, devices: new Set() });
    }
    const hour = bounds[index - 8]!;
    if (reading.temp_f < hour.min) hour.min = reading.temp_f;
    if (reading.temp_f > hour.max) hour.max = reading.temp_f;
    hour.devices.add(reading.device);
    if (maxts === undefined || reading.ts > maxts) maxts = reading.ts;
    entryArgs.push(id, index, reading.temp_f, reading.humidity ?? '');
    readings.push(reading);
  }
  const args: (string | number)[] = [
    ctx.group, ctx.consumer, ctx.now, ctx.alertAbove ?? '', maxts ?? '', entries.length, ...entryArgs,
  ];
  for (const hour of bounds) args.push(hour.min, hour.max, hour.devices.size, ...hour.devices);
  return { keys, args, readings };
}
