import { companionKeyOf } from './keys.js';
import { defineLuaCommand } from './lua-command.js';
import type { RedisClient } from './redis.js';
import { connectionEpoch, type Durability, NO_WAIT, waitForReplicas } from './replication.js';

const FORWARD_LUA = new URL('./lua/forward-outbox-2.lua', import.meta.url);
/** Entries moved per read of an outbox (and per script call). */
const PAGE = 500;
/**
 * How long a destination remembers what it took from an outbox: far longer than an entry waits there
 * between its move and its deletion (the next forward, moments later, unless nothing forwards at all).
 */
const MARK_TTL_MS = 7 * 86_400_000;

/**
 * A stream's outbox: entries bound for streams in other cluster slots (dead letters, late readings,
 * alerts), written by a script in the same step as the work they come from (an XACK, a count). Each
 * entry's first field is `to`, the destination stream's key; the rest is what to append there.
 */
export function outboxOf(stream: string): string {
  return companionKeyOf(stream, 'outbox');
}

/**
 * Empties a stream's outbox into the destination streams, exactly once: forward-outbox-2.lua appends an
 * entry on the destination's slot and remembers the last outbox ID it took there, then XDEL removes
 * what was moved. A forward repeated after a crash between the two, or raced by another process,
 * writes nothing twice, on one server and on a cluster alike. With `only`, entries bound elsewhere stay
 * (a process forwards only to the streams it may write). With `durability`, the XDEL waits until the
 * destinations' replicas hold what was moved: a failover that lost it could not take it again.
 * Returns the number of entries written.
 */
export async function forwardOutbox(
  redis: RedisClient,
  stream: string,
  { only, durability = NO_WAIT }: { only?: readonly string[]; durability?: Durability } = {},
): Promise<number> {
  const forward = defineLuaCommand(redis, 'pipeForwardOutbox', FORWARD_LUA);
  const outbox = outboxOf(stream);
  let written = 0;
  let start = '-';
  for (;;) {
    const entries = await redis.xrange(outbox, start, '+', 'COUNT', PAGE);
    if (entries.length === 0) return written;
    start = `(${entries[entries.length - 1]![0]}`;
    // One script call per destination and page, entries in outbox order (the marks rely on it).
    const byDestination = new Map<string, [string, string[]][]>();
    const moved: string[] = [];
    for (const [id, fields] of entries) {
      const destination = fields[1];
      if (fields[0] !== 'to' || !destination || fields.length < 4 || fields.length % 2 !== 0)
        throw new Error(`outbox ${outbox} entry ${id} is not a destination and fields`);
      if (only && !only.includes(destination)) continue;
      const list = byDestination.get(destination) ?? [];
      list.push([id, fields.slice(2)]);
      byDestination.set(destination, list);
      moved.push(id);
    }
    for (const [destination, list] of byDestination) {
      const since = connectionEpoch(redis);
      written += (await forward(
        [destination, companionKeyOf(destination, 'forwarded')],
        [outbox, MARK_TTL_MS, JSON.stringify(list)],
      )) as number;
      await waitForReplicas(redis, destination, durability, since);
    }
    if (moved.length > 0) await redis.xdel(outbox, ...moved);
    if (entries.length < PAGE) return written;
  }
}
