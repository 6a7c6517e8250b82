import {
  DAY_MS,
  LayoutRecord,
  type Logger,
  type PipelineKeys,
  PipeError,
  type RedisClient,
  type WindowLayout,
} from '@pipe/streams';
import type { AggregatorStateKeys } from './state-keys.js';

/** This instance's --windows are not the layout the pipeline counts with now. */
export class WindowsMismatchError extends PipeError {
  override readonly name = 'WindowsMismatchError';
  constructor(message: string) {
    super(message, 'WINDOWS_MISMATCH');
  }
}

export interface LayoutDeps {
  redis: RedisClient;
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  log: Logger;
}

function mismatch(keys: PipelineKeys, counted: WindowLayout, mine: WindowLayout): WindowsMismatchError {
  return new WindowsMismatchError(
    `${keys.averages} is counted with ${counted.flags}, not ${mine.flags}: run with ${counted.flags}, ` +
      `or stop the aggregators of ${counted.flags} and start once with --change-windows to count with ${mine.flags} from the next UTC midnight`,
  );
}

/**
 * Makes sure every instance counts a day's partitions with the same window sizes (the layout record,
 * LayoutRecord): a partition's scripts and keys follow its day's entry. The default (`1h`) never
 * writes the record, so a pipeline that never chose windows keeps today's keyspace. The first start of
 * a pipeline (no owner recorded yet) records its layout for every day; later, a layout that differs
 * from the newest entry refuses to start unless `changeWindows`, which records it from the next UTC
 * midnight (stop the old aggregators first: they stop anyway at their next check, see checkLayout).
 * Call before claimAverages, which records the owner.
 */
export async function claimLayout(
  deps: LayoutDeps,
  layout: WindowLayout,
  changeWindows: boolean,
): Promise<LayoutRecord> {
  const { redis, keys, state, log } = deps;
  const hash = await redis.hgetall(keys.windowsLayout);
  const record = new LayoutRecord(hash);
  if (record.newest.equals(layout)) return record;
  const fresh = Object.keys(hash).length === 0 && (await redis.exists(state.owner())) === 0;
  if (fresh) {
    // Two first starts at once: one records its layout, the other finds it and compares.
    if ((await redis.hsetnx(keys.windowsLayout, '0', String(layout))) === 1) {
      log.info({ windows: String(layout) }, 'recorded the window layout');
      return new LayoutRecord({ 0: String(layout) });
    }
    return claimLayout(deps, layout, changeWindows);
  }
  // An instance that started at the same time may have recorded this very layout, then the owner,
  // between the two reads above: the owner is written after the layout, so a read now sees it.
  const now = new LayoutRecord(await redis.hgetall(keys.windowsLayout));
  if (now.newest.equals(layout)) return now;
  if (!changeWindows) throw mismatch(keys, now.newest, layout);
  const from = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS;
  await redis.hset(keys.windowsLayout, String(from), String(layout));
  log.warn(
    { from: new Date(from).toISOString(), was: String(record.newest), windows: String(layout) },
    'changed the window layout from the next UTC midnight',
  );
  return new LayoutRecord({ ...hash, [from]: String(layout) });
}

/** The record as it is now; throws WindowsMismatchError when `layout` is no longer its newest entry. */
export async function checkLayout(deps: LayoutDeps, layout: WindowLayout): Promise<LayoutRecord> {
  const record = new LayoutRecord(await deps.redis.hgetall(deps.keys.windowsLayout));
  if (!record.newest.equals(layout)) throw mismatch(deps.keys, record.newest, layout);
  return record;
}
