import { silentLogger } from '@pipe/streams';
import { type OnceConfig, sweepPolicyOf } from '../config.js';
import { Sweeper } from '../sweeper.js';
import { type CommandIo, writeLine } from './command-io.js';

/**
 * `pipe-reaper once`: one sweep with the policy of `run`, its summary on `out` (aligned, or one JSON
 * object). Exit status 1 when a group could not be swept (the next sweep tries it again).
 */
export async function onceCommand(config: OnceConfig, { redis, keys, out, log }: CommandIo): Promise<number> {
  const summary = await new Sweeper({ redis, keys, log: log ?? silentLogger }, sweepPolicyOf(config)).sweep();
  if (config.json) writeLine(out, JSON.stringify(summary));
  else for (const [name, value] of Object.entries(summary)) writeLine(out, `${name.padEnd(22)}${value}`);
  return summary.failedGroups > 0 ? 1 : 0;
}
