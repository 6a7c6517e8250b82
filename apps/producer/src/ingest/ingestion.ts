import type { Readable } from 'node:stream';
import type { PartitionWriter, WriteItem } from '../partition-writer.js';
import { whyTooFarAhead } from '../reading-check.js';
import { type CsvHeader, parseCsvHeader, parseCsvLine } from './csv.js';
import { readLines } from './line-reader.js';
import { parseNdjsonLine } from './ndjson.js';
import { type RawRecord, toReading } from './records.js';
import type { LineSource, RejectionLog } from './rejection-log.js';

export type InputFormat = 'ndjson' | 'csv';

export interface IngestionOptions {
  input: Readable;
  format: InputFormat;
  /** Stop at the first refused record; the records before it still land. */
  strict: boolean;
  /**
   * Input lines per batch. Batches are cut by line number, not by count of good records, so the same
   * input gives the same batches on a re-run and the batch ledger recognises those already written.
   */
  batchLines: number;
  writer: PartitionWriter<LineSource>;
  rejections: RejectionLog;
}

export interface IngestionResult {
  /** Last input line read. */
  lines: number;
  /** Set when --strict stopped the input at this line. */
  stoppedAtLine?: number;
  /** Set when stop() ended the input early. */
  interrupted: boolean;
}

/** Streams records from a file or stdin into the writer, one bounded batch at a time. */
export class Ingestion {
  /** Last input line read so far (also after a failure). */
  linesRead = 0;
  /** Every line up to this one was handed to the writer (written, rejected, or in flight). */
  linesHanded = 0;
  /** stop() aborts the reading itself, so it ends also while no input is arriving. */
  private readonly stopper = new AbortController();
  private header: CsvHeader | undefined;

  constructor(private readonly options: IngestionOptions) {}

  async run(): Promise<IngestionResult> {
    const { input, strict, batchLines, writer, rejections } = this.options;
    let batch: WriteItem<LineSource>[] = [];
    let stoppedAtLine: number | undefined;
    read: for await (const chunk of readLines(input, { signal: this.stopper.signal })) {
      for (const line of chunk) {
        this.linesRead = line.number;
        const item = this.toItem(line.number, line.text, line.tooLong);
        if (typeof item === 'string') {
          writer.reject({ line: line.number, text: line.text }, item);
          if (strict || (this.options.format === 'csv' && !this.header)) {
            stoppedAtLine = line.number;
            break read;
          }
        } else if (item) {
          // Too old now, but maybe written by an earlier run of this input: then it is in place.
          const tooOld = writer.outsideRetention(item.reading);
          if (tooOld === undefined) batch.push(item);
          else if (!(await writer.takeWritten(item.reading))) writer.reject(item.source, tooOld);
        }
        if (batch.length === 0) this.linesHanded = line.number;
        if (line.number % batchLines === 0 && batch.length > 0) {
          await writer.write(batch, { checked: true });
          batch = [];
          this.linesHanded = line.number;
          // Redis refuses out-of-order IDs after the fact; one batch is in flight in that mode, so this is prompt.
          if (strict && writer.stats.rejected > 0) {
            stoppedAtLine = line.number;
            break read;
          }
        }
      }
      await rejections.drain();
    }
    if (batch.length > 0) await writer.write(batch, { checked: true });
    this.linesHanded = this.linesRead;
    input.destroy();
    return { lines: this.linesRead, stoppedAtLine, interrupted: this.stopper.signal.aborted };
  }

  /** Ends the input after the chunk in hand, or at once while waiting for input; what was read is still written. */
  stop(): void {
    this.stopper.abort();
  }

  /** A writable item, the reason the line is refused, or undefined for a line that is not a record. */
  private toItem(number: number, text: string, tooLong: boolean): WriteItem<LineSource> | string | undefined {
    if (tooLong) return 'line too long';
    if (text.trim() === '') return undefined;
    let raw: RawRecord | string;
    if (this.options.format === 'ndjson') {
      raw = parseNdjsonLine(text);
    } else if (!this.header) {
      const header = parseCsvHeader(text);
      if (typeof header === 'string') return header;
      this.header = header;
      return undefined;
    } else {
      raw = parseCsvLine(text, this.header);
    }
    if (typeof raw === 'string') return raw;
    const result = toReading(raw);
    if (!result.ok) return result.reason;
    const reason = whyTooFarAhead(result.reading, Date.now());
    return reason ?? { reading: result.reading, source: { line: number, text } };
  }
}
