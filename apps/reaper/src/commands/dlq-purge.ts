import type { DlqPurgeConfig } from '../config.js';
import { purgeDeadLetters } from '../dead-letter-commands.js';
import { type CommandIo, writeLine } from './command-io.js';

/** `pipe-reaper dlq purge --yes`: deletes the dead-letter stream (main asks for --yes first). */
export async function dlqPurgeCommand(
  _config: DlqPurgeConfig,
  { redis, keys, out }: CommandIo,
): Promise<number> {
  writeLine(out, `purged ${await purgeDeadLetters(redis, keys)} dead letters`);
  return 0;
}
