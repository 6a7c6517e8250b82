import { durabilityOf } from '@pipe/service';
import type { DlqReplayConfig } from '../config.js';
import { replayLetters } from '../dead-letter-commands.js';
import { type CommandIo, writeLine } from './command-io.js';

/**
 * `pipe-reaper dlq replay`: puts the given letters (or all with --all) back into their partitions,
 * each atomically. Exit status 1 when a letter could not be replayed (it stays, said on `err`).
 */
export async function dlqReplayCommand(
  config: DlqReplayConfig,
  letterIds: string[],
  { redis, keys, out, err }: CommandIo,
): Promise<number> {
  const report = await replayLetters(redis, keys, config.all ? 'all' : letterIds, durabilityOf(config));
  for (const r of report.replayed) writeLine(out, `replayed ${r.letterId} -> ${r.stream} ${r.id}`);
  for (const f of report.failed) writeLine(err, `not replayed ${f.letterId}: ${JSON.stringify(f.outcome)}`);
  return report.failed.length > 0 ? 1 : 0;
}
