import type { Logger, PipelineKeys, RedisClient } from '@pipe/streams';
import type { AddReadings } from './add-readings-script.js';
import { type RawRecord, toReading } from './ingest/records.js';
import {
  PartitionWriter,
  type PartitionWriterOptions,
  type WriteItem,
  type WriterStats,
} from './partition-writer.js';
import { whyTooFarAhead } from './reading-check.js';

/** What the writer of one request or message is built with, apart from what writeRecords sets itself. */
export type RecordWriterOptions = Omit<
  PartitionWriterOptions<number>,
  'giveUpAfterMs' | 'onRejected' | 'addReadings' | 'skipWritten' | 'log'
>;

export interface WriteRecordsOptions {
  writer: RecordWriterOptions;
  /** The batch script's caller, shared by every writer of the connection. */
  addReadings: AddReadings;
  /** How long Redis may stay away before the call gives up (GaveUpError). */
  giveUpAfterMs: number;
  /** Records per batch of a request or message, and readings per script call. */
  batchSize: number;
  log: Logger;
}

/** A record refused, by its 0-based index in its request or message, and why. */
export interface RecordRejection {
  index: number;
  reason: string;
}

/** Every record of a request or message accounted for, by its 0-based index. */
export interface RecordsOutcome {
  /** Readings in their partitions now (written by this call or an earlier call with the same content). */
  written: number;
  /** Of those, readings an earlier call with the same content had written (a retry, a redelivery). */
  alreadyWritten: number;
  rejected: RecordRejection[];
}

/** Where a reading came from: its request or message among those written together, and its index there. */
interface RecordSource {
  delivery: number;
  index: number;
}

/**
 * Writes the records of one HTTP request through a PartitionWriter of its own, so that its failure
 * (Redis away for longer than giveUpAfterMs) is that call's alone; resolves once every batch is
 * confirmed, and throws (GaveUpError, WriteFailedError) only after every batch sent has settled. The
 * batch ids come from the batches' content, so calling it again with the same records writes each
 * reading once: the ledger recognises the batches that landed.
 */
export async function writeRecords(
  redis: RedisClient,
  keys: PipelineKeys,
  options: WriteRecordsOptions,
  records: readonly (RawRecord | string)[],
): Promise<RecordsOutcome> {
  const { rejected, stats } = await writeDeliveries(redis, keys, options, [records]);
  const { written, alreadyPresent } = stats;
  return { written: written + alreadyPresent, alreadyWritten: alreadyPresent, rejected: rejected[0]! };
}

/**
 * writeRecords for several MQTT messages at once (the messages in hand): each message's readings are
 * batches of their own in the ledger, exactly as if it were written alone, so a message redelivered
 * alone or among others is recognised and written once; the batches of a partition share script calls
 * of up to batchSize readings. Resolves with each message's rejected records, in message order.
 */
export async function writeMessages(
  redis: RedisClient,
  keys: PipelineKeys,
  options: WriteRecordsOptions,
  messages: readonly (readonly (RawRecord | string)[])[],
): Promise<RecordRejection[][]> {
  return (await writeDeliveries(redis, keys, options, messages)).rejected;
}

/** Writes requests or messages together, each cut into batches of batchSize records of its own. */
async function writeDeliveries(
  redis: RedisClient,
  keys: PipelineKeys,
  options: WriteRecordsOptions,
  deliveries: readonly (readonly (RawRecord | string)[])[],
): Promise<{ rejected: RecordRejection[][]; stats: WriterStats }> {
  const rejected = deliveries.map((): RecordRejection[] => []);
  const writer = new PartitionWriter<RecordSource>(redis, keys, {
    ...options.writer,
    giveUpAfterMs: options.giveUpAfterMs,
    addReadings: options.addReadings,
    log: options.log,
    onRejected: ({ delivery, index }, reason) => rejected[delivery]!.push({ index, reason }),
  });
  await writer.start();
  const now = Date.now();
  const batches: WriteItem<RecordSource>[][] = [];
  for (const [delivery, records] of deliveries.entries()) {
    let batch: WriteItem<RecordSource>[] = [];
    for (const [index, record] of records.entries()) {
      const source = { delivery, index };
      const item = typeof record === 'string' ? record : itemOf(record, source, now);
      if (typeof item === 'string') writer.reject(source, item);
      else batch.push(item);
      if (batch.length >= options.batchSize) {
        batches.push(batch);
        batch = [];
      }
    }
    if (batch.length > 0) batches.push(batch);
  }
  try {
    await writer.writeBatches(batches, { checked: true, readingsPerCall: options.batchSize });
  } finally {
    // Every batch sent settles before the caller answers: nothing is still on its way after a failure.
    await writer.flush().catch(() => {});
  }
  await writer.flush();
  for (const list of rejected) list.sort((a, b) => a.index - b.index);
  return { rejected, stats: writer.stats };
}

/** A record as a reading to write, or why it is refused (the checks `ingest` makes). */
function itemOf(record: RawRecord, source: RecordSource, now: number): WriteItem<RecordSource> | string {
  const result = toReading(record);
  if (!result.ok) return result.reason;
  return whyTooFarAhead(result.reading, now) ?? { reading: result.reading, source };
}
