import { defineLuaCommand, type Reading, type RedisClient } from '@pipe/streams';
import {
  type Fingerprint,
  fingerprintOfFields,
  packFingerprints,
  readingFields,
} from './reading-fingerprint.js';

const SCRIPT = new URL('./lua/add-readings-2.lua', import.meta.url);

/** What the script reports for one batch of a call (see lua/add-readings-2.lua). */
export interface AddReadingsOutcome {
  /** False when the batch ledger shows the batch was written before (a retry or a re-run). */
  applied: boolean;
  /** The batch's newest reading + retention is not after Redis's clock: nothing of it was written. */
  expired: boolean;
  /** Readings Redis refused, by 0-based index in the batch, with Redis's error. */
  refused: { index: number; error: string }[];
}

/** One batch of a call: its ledger entry's id, the expiry it needs and its readings. */
export interface LedgerBatch extends EncodedReadings {
  /** A digest of the batch's content, fixed across retries. */
  id: string;
  /** The batch's newest reading + retention, in ms. */
  expireAt: number;
}

/**
 * Writes batches to one partition in one script call, each recognised by its own id in the ledger;
 * resolves with each batch's outcome, in order.
 */
export type AddReadings = (
  partition: string,
  ledger: string,
  idFromTime: boolean,
  batches: readonly LedgerBatch[],
) => Promise<AddReadingsOutcome[]>;

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
  return async (partition, ledger, idFromTime, batches) => {
    const args: (string | Buffer)[] = [idFromTime ? '1' : '0'];
    for (const batch of batches)
      args.push(batch.id, String(batch.expireAt), batch.readings, batch.fingerprints);
    const replies = (await run([partition, ledger], args)) as (number | string)[];
    return batches.map((_, n) => {
      const applied = replies[2 * n] as number;
      return {
        applied: applied === 1,
        expired: applied === -1,
        refused: parseRejections(replies[2 * n + 1] as string),
      };
    });
  };
}

function parseRejections(text: string): { index: number; error: string }[] {
  if (!text) return [];
  return text.split('\n').map((line) => {
    const tab = line.indexOf('\t');
    return { index: Number(line.slice(0, tab)) - 1, error: line.slice(tab + 1) };
  });
}
