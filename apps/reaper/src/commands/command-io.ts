import type { Logger } from '@pipe/service';
import type { PipelineKeys, RedisClient } from '@pipe/streams';

/** Where a command writes: process.stdout and process.stderr in the bin, a collector in a test. */
export interface Output {
  write(text: string): unknown;
}

/** What a one-shot command of the reaper works with: a connection, its key names, its outputs. */
export interface CommandIo {
  redis: RedisClient;
  keys: PipelineKeys;
  /** The command's result (a table, JSON, one line per letter). */
  out: Output;
  /** What went wrong with a part of the work (a letter that could not be replayed). */
  err: Output;
  log?: Logger;
}

/** Writes `text` as one line. */
export function writeLine(output: Output, text: string): void {
  output.write(`${text}\n`);
}
