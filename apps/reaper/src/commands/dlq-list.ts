import type { DlqListConfig } from '../config.js';
import { allDeadLetters, letterJson, renderDeadLetters } from '../dead-letter-commands.js';
import { type CommandIo, writeLine } from './command-io.js';

/** `pipe-reaper dlq list`: every dead letter, oldest first, as a table or JSON. */
export async function dlqListCommand(
  config: DlqListConfig,
  { redis, keys, out }: CommandIo,
): Promise<number> {
  const entries = [];
  for await (const entry of allDeadLetters(redis, keys)) entries.push(entry);
  writeLine(out, config.json ? JSON.stringify(entries.map(letterJson), null, 2) : renderDeadLetters(entries));
  return 0;
}
