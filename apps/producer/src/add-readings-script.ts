import { readFileSync } from 'node:fs';
import type { RedisClient } from '@pipe/streams';

const SOURCE = readFileSync(new URL('./lua/add-readings-2.lua', import.meta.url), 'utf8');
const COMMAND = 'pipeAddReadings';

/** What the script reports for one partition batch (see lua/add-readings-2.lua). */
export interface AddReadingsOutcome {
  /** False when the batch ledger shows the batch was written before (a retry or a re-run). */
  applied: boolean;
  /** The batch's newest reading + retention is not after Redis's clock: nothing was written. */
  expired: boolean;
  /** Readings Redis refused, by 0-based index in the batch, with Redis's error. */
  refused: { index: number; error: string }[];
}

type ScriptCall = (partition: string, ledger: string, ...args: string[]) => Promise<[number, string]>;

/** Registers the script on a client (EVALSHA, falling back to EVAL after a restart emptied the cache). */
export function defineAddReadings(redis: RedisClient): void {
  redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: SOURCE });
}

export async function addReadings(
  redis: RedisClient,
  partition: string,
  ledger: string,
  args: string[],
): Promise<AddReadingsOutcome> {
  const call = (redis as unknown as Record<string, ScriptCall>)[COMMAND];
  if (!call) throw new Error('defineAddReadings() was not called on this client');
  const [applied, rejections] = await call.call(redis, partition, ledger, ...args);
  return { applied: applied === 1, expired: applied === -1, refused: parseRejections(rejections) };
}

export function parseRejections(text: string): { index: number; error: string }[] {
  if (!text) return [];
  return text.split('\n').map((line) => {
    const tab = line.indexOf('\t');
    return { index: Number(line.slice(0, tab)) - 1, error: line.slice(tab + 1) };
  });
}
