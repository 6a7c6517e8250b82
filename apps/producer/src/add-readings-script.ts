import { defineLuaCommand, type RedisClient } from '@pipe/streams';

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
