import type { FieldList } from './codecs.js';
import { ConsumerGroup, type PendingEntry } from './consumer-group.js';
import { compareIds, idFromDate, parseId } from './ids.js';
import { Stream } from './stream.js';

/** A stream entry seen as a point in time (walrus's Message with timestamp and sequence). */
export interface TimeSeriesMessage {
  stream: string;
  id: string;
  timestamp: Date;
  sequence: number;
  fields: FieldList;
}

/** A pending entry whose ID is also given as a time and a sequence. */
export interface TimeSeriesPending extends PendingEntry {
  timestamp: Date;
  sequence: number;
}

function toMessage(stream: string, id: string, fields: FieldList): TimeSeriesMessage {
  const { ms, seq } = parseId(id);
  return { stream, id, timestamp: new Date(ms), sequence: seq, fields };
}

/** A ConsumerGroup that speaks Dates: IDs in and out are times (walrus's TimeSeries). */
export class TimeSeries extends ConsumerGroup {
  /** Adds an entry at `at` (ms precision; sequence 0 unless given), or now when omitted. */
  async add(stream: string, fields: FieldList, at?: Date, sequence = 0): Promise<TimeSeriesMessage> {
    const id = await new Stream(this.redis, stream).add(fields, { id: at ? idFromDate(at, sequence) : '*' });
    return toMessage(stream, id, fields);
  }

  /** Entries of one stream between two dates (inclusive), oldest first. */
  async range(stream: string, from?: Date, to?: Date, count?: number): Promise<TimeSeriesMessage[]> {
    const entries = await new Stream(this.redis, stream).range({
      start: from ? String(from.getTime()) : '-',
      end: to ? String(to.getTime()) : '+',
      count,
    });
    return entries.map((e) => toMessage(stream, e.id, e.fields));
  }

  /** Reads as this consumer and returns one flat list ordered by time (unlike ConsumerGroup's map). */
  async readMessages(
    options: { count?: number; block?: number; id?: string } = {},
  ): Promise<TimeSeriesMessage[]> {
    const byStream = await this.read(options);
    const messages: TimeSeriesMessage[] = [];
    for (const [stream, entries] of byStream)
      for (const e of entries) messages.push(toMessage(stream, e.id, e.fields));
    return messages.sort((a, b) => compareIds(a.id, b.id));
  }

  /** Pending entries of one stream with their IDs as times (walrus's `ts.s1.pending()`). */
  async pendingTimes(
    stream: string,
    options: Parameters<ConsumerGroup['pending']>[1] = {},
  ): Promise<TimeSeriesPending[]> {
    const rows = await this.pending(stream, options);
    return rows.map((row) => {
      const { ms, seq } = parseId(row.id);
      return { ...row, timestamp: new Date(ms), sequence: seq };
    });
  }

  /** Acknowledges entries of one stream named by time and sequence (walrus's `ts.s1.ack(ts_seq)`). */
  async ackTimes(stream: string, ...points: { timestamp: Date; sequence?: number }[]): Promise<number> {
    return this.ack(stream, ...points.map((p) => idFromDate(p.timestamp, p.sequence ?? 0)));
  }

  /** Moves the group's position to a date on every stream (or one). */
  async setTime(at: Date, stream?: string): Promise<void> {
    await this.setId(idFromDate(at), stream);
  }
}
