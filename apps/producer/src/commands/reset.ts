import { type Logger, openRedis } from '@pipe/service';
import type { ResetConfig } from '../config.js';
import { deleteKeys, findPipelineKeys } from '../reset.js';
import { isTransient } from '../retry-policy.js';
import { type CommandIo, processIo } from './command-io.js';
import { EXIT } from './exit-codes.js';

/** Deletes the pipeline's keys under the prefix (with --yes), printing each; without --yes only lists them. */
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
    io.stderr.write(`reset: failed: ${(err as Error).message}\n`);
    return isTransient(err) ? EXIT.gaveUp : EXIT.writeFailed;
  } finally {
    redis.disconnect();
  }
}
