import { defineLuaCommand, type Reading, type RedisClient } from '@pipe/streams';
import {
  type Fingerprint,
  fingerprintOfFields,
  packFingerprints,
  readingFields,
} from './reading-fingerprint.js';

const SCRIPT = new URL('./lua/add-readings-2.lua', import.meta.url);

/** What the script reports for one partition batch (see lua/add-readings-2.lua). */
export interface AddReadingsOutcome {
  /** False when the batch ledger shows the batch was written before (a retry or a re-run). */
  applied: boolean;
  /** The batch's newest reading + retention is not after Redis's clock: nothing was written. */
  expired: boolean;
  /** Readings Redis refused, by 0-based index in the batch, with Redis's error. */
  refused: { index: number; error: string }[];
}

/**
 * The arguments of one call: batch id, expire-at ms, '1' for `<ts>-*` IDs, the readings as JSON, their
 * packed fingerprints.
 */
export type AddReadingsArgs = [
  batchId: string,
  expireAt: string,
  idFromTime: '0' | '1',
  readings: string,
  fingerprints: Buffer,
];

export type AddReadings = (
  partition: string,
  ledger: string,
  args: AddReadingsArgs,
) => Promise<AddReadingsOutcome>;

/** The script's last two arguments for a batch: its readings as JSON and their packed fingerprints. */
export interface EncodedReadings {
  readings: string;
  fingerprints: Buffer;
}

/**
 * A batch as the script reads it: a JSON array of strings, four per reading (device, ts, temp_f,
 * humidity or ''), and each reading's fingerprint hashed from the same strings, so that what the ledger
 * remembers is exactly what was written (see the Lua header).
 */
export function encodeReadings(batch: readonly Reading[]): EncodedReadings {
  const values = new Array<string>(batch.length * 4);
  const fingerprints = new Array<Fingerprint>(batch.length);
  let i = 0;
  for (const [n, reading] of batch.entries()) {
    const fields = readingFields(reading);
    fingerprints[n] = fingerprintOfFields(fields);
    for (const field of fields) values[i++] = field;
  }
  return { readings: JSON.stringify(values), fingerprints: packFingerprints(fingerprints) };
}

/** Registers the batch script on a client and returns its caller. */
export function addReadingsCommand(redis: RedisClient): AddReadings {
  const run = defineLuaCommand(redis, 'pipeAddReadings', SCRIPT);
  return async (partition, ledger, args) => {
    const [applied, rejections] = (await run([partition, ledger], args)) as [number, string];
    return { applied: applied === 1, expired: applied === -1, refused: parseRejections(rejections) };
  };
}

function parseRejections(text: string): { index: number; error: string }[] {
  if (!text) return [];
  return text.split('\n').map((line) => {
    const tab = line.indexOf('\t');
    return { index: Number(line.slice(0, tab)) - 1, error: line.slice(tab + 1) };
  });
}
