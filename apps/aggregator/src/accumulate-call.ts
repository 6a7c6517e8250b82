import {
  type ConsumerBatch,
  fieldsToObject,
  hourWindowOf,
  outboxOf,
  type PipelineKeys,
  type Reading,
} from '@pipe/streams';
import { checkedEntries } from './partition-entries.js';
import type { AggregatorStateKeys } from './state-keys.js';

export interface AccumulateContext {
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  group: string;
  consumer: string;
  alertAbove: number | undefined;
  now: number;
  /** How long the partition's `agg` state outlives the partition (see stateAfterPartitionMs). */
  stateAfterPartitionMs: number;
}

export interface AccumulateCall {
  keys: string[];
  args: (string | number)[];
  /** The decoded reading of each entry (undefined for an undecodable one), in entry order. */
  readings: (Reading | undefined)[];
}

/** One hour's figures over the batch's readings, as accumulate-batch-n.lua takes them. */
class HourFigures {
  n = 0;
  sum = 0;
  humidityN = 0;
  humiditySum = 0;
  min: number;
  max: number;
  readonly devices = new Set<string>();

  constructor(first: number) {
    this.min = first;
    this.max = first;
  }

  add(reading: Reading): void {
    this.n++;
    this.sum += reading.temp_f;
    if (reading.temp_f < this.min) this.min = reading.temp_f;
    if (reading.temp_f > this.max) this.max = reading.temp_f;
    if (reading.humidity !== undefined) {
      this.humidityN++;
      this.humiditySum += reading.humidity;
    }
    this.devices.add(reading.device);
  }

  // Bounds travel as text so the hour keeps the reading's own digits (a Lua number would gain noise).
  toJSON() {
    return [
      this.n,
      this.sum,
      this.humidityN,
      this.humiditySum,
      String(this.min),
      String(this.max),
      [...this.devices],
    ];
  }
}

/** Longer texts (a thousand digits is still a valid number) travel as the number's shortest text. */
const MAX_TEXT = 24;

/**
 * A reading's temperature as the script's recount reads it (tonumber): the entry's own text when it is a
 * bare number, which Lua reads exactly as the codec did, else the number's shortest text. Turning each
 * number back into text cost more than the rest of the batch's layout.
 */
export function temperatureText(fields: string[], temp: number): string {
  // The last temp_f field, as the codec takes the last (of whole pairs: a trailing odd field is ignored).
  for (let i = fields.length - 2 - (fields.length % 2); i >= 0; i -= 2) {
    if (fields[i] === 'temp_f') {
      const text = fields[i + 1]!;
      return text.length <= MAX_TEXT && text.trim() === text ? text : String(temp);
    }
  }
  return String(temp);
}

/**
 * Decodes one partition's batch (in one place: the codecs) and lays it out as the arguments of
 * accumulate-batch-n.lua. Undecodable entries travel as dead letters with their reason.
 */
export function accumulateCall(batch: ConsumerBatch, ctx: AccumulateContext): AccumulateCall {
  const { stream, entries } = batch;
  const keys = [stream, ctx.state.aggHash(stream), ctx.state.openHours(stream), outboxOf(stream)];
  const firstHourKey = keys.length + 1; // KEYS are 1-based in Lua
  const day = ctx.keys.parsePartitionKey(stream);
  const hourIndex = new Map<number, number>();
  const hours: HourFigures[] = [];
  const ids: string[] = [];
  const hourOf: number[] = [];
  const poison: [number, string, string][] = [];
  const alerts: number[] = [];
  const temps: string[] = [];
  const devices: string[] = [];
  const humidity: (number | false)[] = [];
  const readings: (Reading | undefined)[] = [];
  let maxts: number | undefined;
  const deadLetter = (id: string, reason: string, fields: string[]) => {
    ids.push(id);
    hourOf.push(0);
    temps.push('0');
    devices.push('');
    humidity.push(false);
    poison.push([ids.length, reason, JSON.stringify(fieldsToObject(fields))]);
    readings.push(undefined);
  };
  for (const entry of checkedEntries(stream, day, entries)) {
    if ('poison' in entry) {
      deadLetter(entry.id, entry.poison, entry.fields);
      continue;
    }
    const { id, fields, reading } = entry;
    const { start } = hourWindowOf(reading.ts);
    let index = hourIndex.get(start);
    if (index === undefined) {
      keys.push(ctx.state.hour(stream, start));
      index = keys.length; // KEYS are 1-based in Lua
      hourIndex.set(start, index);
      hours.push(new HourFigures(reading.temp_f));
    }
    hours[index - firstHourKey]!.add(reading);
    if (maxts === undefined || reading.ts > maxts) maxts = reading.ts;
    ids.push(id);
    hourOf.push(index);
    temps.push(temperatureText(fields, reading.temp_f));
    devices.push(reading.device);
    humidity.push(reading.humidity ?? false);
    if (ctx.alertAbove !== undefined && reading.temp_f > ctx.alertAbove) alerts.push(ids.length);
    readings.push(reading);
  }
  const args = [
    ctx.group,
    ctx.consumer,
    ctx.now,
    maxts ?? '',
    JSON.stringify({ i: ids, k: hourOf, x: poison, a: alerts }),
    JSON.stringify(hours),
    JSON.stringify({ t: temps, h: humidity, d: devices }),
    ctx.keys.late,
    ctx.keys.deadLetters,
    ctx.keys.alerts,
    ctx.stateAfterPartitionMs,
  ];
  return { keys, args, readings };
}
