import { pipelineStatus } from '@pipe/streams';
import type { StatusConfig } from '../config.js';
import { renderStatus } from '../status-table.js';
import { type CommandIo, writeLine } from './command-io.js';

/** `pipe-reaper status`: partitions, groups, pending entries, lag, side streams and Redis memory. */
export async function statusCommand(config: StatusConfig, { redis, keys, out }: CommandIo): Promise<number> {
  const report = await pipelineStatus(redis, keys);
  writeLine(out, config.json ? JSON.stringify(report, null, 2) : renderStatus(report));
  return 0;
}
