import { type Decoded, decodeDeadLetter, type FieldList, objectToFields } from './codecs.js';
import { parseId } from './ids.js';
import { companionKeyOf } from './keys.js';
import { defineLuaCommand } from './lua-command.js';
import { forwardOutbox, outboxOf } from './outbox.js';
import type { RedisClient } from './redis.js';
import { connectionEpoch, type Durability, NO_WAIT, waitForReplicas } from './replication.js';
import type { DeadLetter } from './schemas.js';
import { Stream } from './stream.js';

const DEAD_LETTER_LUA = new URL('./lua/dead-letter-2.lua', import.meta.url);
const REPLAY_LUA = new URL('./lua/replay-dead-letter-2.lua', import.meta.url);
/** How long a stream remembers the letters it took back (a repeated replay is refused meanwhile). */
const REPLAY_MARK_TTL_MS = 7 * 86_400_000;
/** IDs per script call: bounds how long one call holds the server. */
const CHUNK = 500;

/**
 * The reason of a letter for an entry delivered too often without an ack (the reaper's and a drain's
 * poison entries): deadLetterPending replaces `{deliveries}`.
 */
export const DELIVERED_TOO_OFTEN = 'delivered {deliveries} times without ack';

export interface DeadLetterRequest {
  /** The stream the entries are pending in, and its group. */
  stream: string;
  group: string;
  ids: string[];
  /** Only entries still idle at least this long are moved (0: whatever their idle time). */
  minIdleMs?: number;
  /** Only entries delivered at least this many times are moved. */
  minDeliveries?: number;
  /** Why; `{deliveries}` is replaced by the entry's delivery count. */
  reason: string;
  /** Replicas that must hold the letters before they leave the outbox (see forwardOutbox). */
  durability?: Durability;
}

export interface DeadLetterOutcome {
  /** Acknowledged and written to the dead-letter stream. */
  deadLettered: string[];
  /** Left alone: acknowledged by someone else, re-read or claimed meanwhile, or below the thresholds. */
  skipped: string[];
  /** Acknowledged without a letter: the entry had been deleted or trimmed from the stream. */
  gone: string[];
}

/**
 * Moves pending entries to the dead-letter stream `deadLetters`, with their stream, ID, group, last
 * consumer, delivery count, idle time, reason and original fields (encodeDeadLetter's layout).
 *
 * Each entry moves atomically (dead-letter-2.lua): the letter is written, to the stream's outbox in the
 * stream's own cluster slot, only when XACK removed the entry from the PEL, so it is never both pending
 * and dead-lettered, never neither. forwardOutbox then moves the letters to `deadLetters` exactly once.
 * The same steps run on one server and on a Redis Cluster.
 */
export async function deadLetterPending(
  redis: RedisClient,
  deadLetters: string,
  request: DeadLetterRequest,
): Promise<DeadLetterOutcome> {
  const outcome: DeadLetterOutcome = { deadLettered: [], skipped: [], gone: [] };
  const run = defineLuaCommand(redis, 'pipeDeadLetter', DEAD_LETTER_LUA);
  const head = [
    request.group,
    request.minIdleMs ?? 0,
    request.minDeliveries ?? 0,
    request.reason,
    deadLetters,
  ];
  for (let i = 0; i < request.ids.length; i += CHUNK) {
    const ids = request.ids.slice(i, i + CHUNK);
    const codes = (await run([request.stream, outboxOf(request.stream)], [...head, ...ids])) as number[];
    ids.forEach((id, k) => {
      const code = codes[k];
      (code === 1 ? outcome.deadLettered : code === -1 ? outcome.gone : outcome.skipped).push(id);
    });
  }
  // Only the letters: the outbox may also hold an aggregator's late readings and alerts.
  if (outcome.deadLettered.length > 0)
    await forwardOutbox(redis, request.stream, { only: [deadLetters], durability: request.durability });
  return outcome;
}

/** One entry of the dead-letter stream, decoded (or the reason it could not be). */
export interface DeadLetterEntry {
  /** The letter's own ID in the dead-letter stream. */
  letterId: string;
  letter: Decoded<DeadLetter>;
}

/** Letters oldest first, from `start` (inclusive), at most `count`. */
export async function listDeadLetters(
  redis: RedisClient,
  deadLetters: string,
  { start = '-', count }: { start?: string; count?: number } = {},
): Promise<DeadLetterEntry[]> {
  const entries = await new Stream(redis, deadLetters).range({ start, count });
  return entries.map((e) => ({ letterId: e.id, letter: decodeDeadLetter(e.fields) }));
}

/**
 * The fields to append when replaying a letter: the original fields, plus `ts` from the original ID
 * when the entry had none, because the replayed entry gets a new ID and an entry without `ts` takes its
 * event time from its ID (the RU202 layout).
 */
export function replayFields(letter: DeadLetter): FieldList {
  const fields = { ...letter.fields };
  if (fields.ts === undefined) {
    try {
      fields.ts = String(parseId(letter.id).ms);
    } catch {
      // An ID that carries no time: replay the fields as they were.
    }
  }
  return objectToFields(fields);
}

export type ReplayOutcome =
  | { status: 'replayed'; stream: string; id: string }
  /** The letter no longer exists (replayed or purged meanwhile). */
  | { status: 'gone' }
  /** The original stream no longer exists (expired partition); the letter stays. */
  | { status: 'nostream'; stream: string }
  /** The letter cannot be decoded; it stays. */
  | { status: 'invalid'; reason: string };

/**
 * Appends a letter's original entry to its original stream (new ID), then deletes the letter. The two
 * keys live in different cluster slots, so these are two steps; the stream remembers the letters it
 * took back (replay-dead-letter-2.lua), so a replay repeated after a crash between them appends
 * nothing twice. With `durability`, the letter is deleted only once the stream's replicas hold the entry. The same steps run on one server and on a Redis Cluster.
 */
export async function replayDeadLetter(
  redis: RedisClient,
  deadLetters: string,
  letterId: string,
  { durability = NO_WAIT }: { durability?: Durability } = {},
): Promise<ReplayOutcome> {
  const [found] = await listDeadLetters(redis, deadLetters, { start: letterId, count: 1 });
  if (!found || found.letterId !== letterId) return { status: 'gone' };
  if (!found.letter.ok) return { status: 'invalid', reason: found.letter.error.message };
  const { stream } = found.letter.value;
  const run = defineLuaCommand(redis, 'pipeReplayDeadLetter', REPLAY_LUA);
  const since = connectionEpoch(redis);
  const [status, id] = (await run(
    [stream, companionKeyOf(stream, 'replayed')],
    [deadLetters, letterId, REPLAY_MARK_TTL_MS, ...replayFields(found.letter.value)],
  )) as [string, string];
  if (status === 'nostream') return { status, stream };
  // The letter goes only once the partition's replicas hold the entry it became (--wait-replicas).
  await waitForReplicas(redis, stream, durability, since);
  await redis.xdel(deadLetters, letterId);
  return { status: 'replayed', stream, id };
}
