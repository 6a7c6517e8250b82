import type { Logger, PipelineKeys, RedisClient } from '@pipe/streams';
import type { AddReadings } from './add-readings-script.js';
import { type RawRecord, toReading } from './ingest/records.js';
import { PartitionWriter, type PartitionWriterOptions, type WriteItem } from './partition-writer.js';
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
  /** Readings per script call. */
  batchSize: number;
  log: Logger;
}

/** Every record of a request or message accounted for, by its 0-based index. */
export interface RecordsOutcome {
  /** Readings in their partitions now (written by this call or an earlier call with the same content). */
  written: number;
  /** Of those, readings an earlier call with the same content had written (a retry, a redelivery). */
  alreadyWritten: number;
  rejected: { index: number; reason: string }[];
}

/**
 * Writes the records of one HTTP request or MQTT message through a PartitionWriter of its own, so that
 * its failure (Redis away for longer than giveUpAfterMs) is that call's alone; resolves once every batch
 * is confirmed, and throws (GaveUpError, WriteFailedError) only after every batch sent has settled. The
 * batch ids come from the batches' content, so calling it again with the same records writes each
 * reading once: the ledger recognises the batches that landed.
 */
export async function writeRecords(
  redis: RedisClient,
  keys: PipelineKeys,
  options: WriteRecordsOptions,
  records: readonly (RawRecord | string)[],
): Promise<RecordsOutcome> {
  const rejected: RecordsOutcome['rejected'] = [];
  const writer = new PartitionWriter<number>(redis, keys, {
    ...options.writer,
    giveUpAfterMs: options.giveUpAfterMs,
    addReadings: options.addReadings,
    log: options.log,
    onRejected: (index, reason) => rejected.push({ index, reason }),
  });
  await writer.start();
  const now = Date.now();
  let batch: WriteItem<number>[] = [];
  try {
    for (const [index, record] of records.entries()) {
      const item = typeof record === 'string' ? record : itemOf(record, index, now);
      if (typeof item === 'string') writer.reject(index, item);
      else batch.push(item);
      if (batch.length >= options.batchSize) {
        await writer.write(batch, { checked: true });
        batch = [];
      }
    }
    if (batch.length > 0) await writer.write(batch, { checked: true });
  } finally {
    // Every batch sent settles before the caller answers: nothing is still on its way after a failure.
    await writer.flush().catch(() => {});
  }
  await writer.flush();
  rejected.sort((a, b) => a.index - b.index);
  const { written, alreadyPresent } = writer.stats;
  return { written: written + alreadyPresent, alreadyWritten: alreadyPresent, rejected };
}

/** A record as a reading to write, or why it is refused (the checks `ingest` makes). */
function itemOf(record: RawRecord, index: number, now: number): WriteItem<number> | string {
  const result = toReading(record);
  if (!result.ok) return result.reason;
  return whyTooFarAhead(result.reading, now) ?? { reading: result.reading, source: index };
}
