import { type Logger, openRedis } from '@pipe/service';
import type { ResetConfig } from '../config.js';
import { deleteKeys, findPipelineKeys } from '../pipeline-key-deletion.js';
import { isTransient } from '../retry-policy.js';
import { type CommandIo, processIo } from './command-io.js';
import { EXIT } from './exit-codes.js';

/** `reset`'s --help description: the command deletes every service's keys, so it needs an admin. */
export const RESET_DESCRIPTION =
  "delete every key of the pipeline under the prefix (partitions, averages, state), printing each; needs a Redis user allowed to delete them (the admin user, not pipe-producer's ACL user)";

/**
 * Deletes the pipeline's keys under the prefix (with --yes), printing each; without --yes only lists
 * them. It deletes every service's keys, so it runs as a user allowed to: the producer's ACL user may
 * only add to partitions, and a refusal (NOPERM) says so.
 */
export async function resetCommand(
  config: ResetConfig,
  log: Logger,
  io: Pick<CommandIo, 'stdout' | 'stderr'> = processIo,
): Promise<number> {
  const { redis, keys } = openRedis(config, 'pipe-producer-reset', undefined, log);
  redis.on('error', (err) => log.debug({ err: err.message }, 'redis connection error'));
  try {
    const found = await findPipelineKeys(redis, keys);
    if (!config.yes) {
      for (const key of found) io.stdout.write(`would delete ${key}\n`);
      io.stderr.write(`reset: refusing to delete ${found.length} keys under ${keys.prefix} without --yes\n`);
      return EXIT.usage;
    }
    const deleted = await deleteKeys(redis, found);
    for (const key of found) io.stdout.write(`deleted ${key}\n`);
    io.stdout.write(`reset: deleted ${deleted} keys under ${keys.prefix}\n`);
    log.info({ prefix: keys.prefix, deleted }, 'pipeline keys deleted');
    return EXIT.ok;
  } catch (err) {
    const message = (err as Error).message;
    io.stderr.write(`reset: failed: ${message}\n`);
    if (message.startsWith('NOPERM'))
      io.stderr.write('reset: needs a Redis user allowed to delete every pipeline key (the admin user)\n');
    return isTransient(err) ? EXIT.gaveUp : EXIT.writeFailed;
  } finally {
    redis.disconnect();
  }
}
