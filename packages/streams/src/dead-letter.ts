import {
  type Decoded,
  decodeDeadLetter,
  encodeDeadLetter,
  type FieldList,
  objectToFields,
} from './codecs.js';
import { ConsumerGroup } from './consumer-group.js';
import { parseId } from './ids.js';
import { defineLuaCommand } from './lua-command.js';
import { isCluster, type RedisClient } from './redis.js';
import type { DeadLetter } from './schemas.js';
import { Stream } from './stream.js';

const DEAD_LETTER_LUA = new URL('./lua/dead-letter-2.lua', import.meta.url);
const REPLAY_LUA = new URL('./lua/replay-dead-letter-2.lua', import.meta.url);
/** IDs per script call: bounds how long one call holds the server. */
const CHUNK = 500;

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
 * On one server each entry moves atomically (dead-letter-2.lua): the letter is written only when XACK
 * removed the entry from the PEL, so it is never both pending and dead-lettered, never neither.
 * On a Redis Cluster the stream and the dead-letter stream live in different slots and no script may
 * touch both; there the letter is written first and the entry acknowledged second (the letter is
 * deleted again when XACK finds the entry already acknowledged). That is at-least-once into the
 * dead-letter stream: a crash between the two steps leaves the entry pending *and* dead-lettered, and
 * the next sweep writes a second letter for it. Never neither still holds.
 */
export async function deadLetterPending(
  redis: RedisClient,
  deadLetters: string,
  request: DeadLetterRequest,
): Promise<DeadLetterOutcome> {
  const outcome: DeadLetterOutcome = { deadLettered: [], skipped: [], gone: [] };
  if (isCluster(redis)) {
    for (const id of request.ids)
      outcome[await deadLetterOneAcrossSlots(redis, deadLetters, request, id)].push(id);
    return outcome;
  }
  const run = defineLuaCommand(redis, 'pipeDeadLetter', DEAD_LETTER_LUA);
  const head = [request.group, request.minIdleMs ?? 0, request.minDeliveries ?? 0, request.reason];
  for (let i = 0; i < request.ids.length; i += CHUNK) {
    const ids = request.ids.slice(i, i + CHUNK);
    const codes = (await run([request.stream, deadLetters], [...head, ...ids])) as number[];
    ids.forEach((id, k) => {
      const code = codes[k];
      (code === 1 ? outcome.deadLettered : code === -1 ? outcome.gone : outcome.skipped).push(id);
    });
  }
  return outcome;
}

async function deadLetterOneAcrossSlots(
  redis: RedisClient,
  deadLetters: string,
  request: DeadLetterRequest,
  id: string,
): Promise<keyof DeadLetterOutcome> {
  const group = new ConsumerGroup(redis, request.group, [request.stream]);
  const [pending] = await group.pending(request.stream, {
    start: id,
    end: id,
    count: 1,
    idle: request.minIdleMs ?? 0,
  });
  if (!pending || pending.deliveries < (request.minDeliveries ?? 0)) return 'skipped';
  const entry = await new Stream(redis, request.stream).get(id);
  if (!entry) return (await group.ack(request.stream, id)) === 1 ? 'gone' : 'skipped';
  const letter = await redis.call(
    'XADD',
    deadLetters,
    '*',
    ...encodeDeadLetter({
      stream: request.stream,
      id,
      group: request.group,
      consumer: pending.consumer,
      deliveries: pending.deliveries,
      idle_ms: pending.idleMs,
      reason: request.reason.replaceAll('{deliveries}', String(pending.deliveries)),
      fields: Object.fromEntries(pairsOf(entry.fields)),
      dead_at: Date.now(),
    }),
  );
  if ((await group.ack(request.stream, id)) === 1) return 'deadLettered';
  // Someone acknowledged it between our two steps: it was processed after all.
  await redis.call('XDEL', deadLetters, letter as string);
  return 'skipped';
}

function pairsOf(fields: FieldList): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
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
 * Appends a letter's original entry to its original stream (new ID) and deletes the letter, atomically
 * on one server (replay-dead-letter-2.lua). On a Redis Cluster the two keys live in different slots:
 * there the entry is appended first and the letter deleted second, so a crash between the two leaves
 * the letter in place and a second replay appends the entry twice (at-least-once).
 */
export async function replayDeadLetter(
  redis: RedisClient,
  deadLetters: string,
  letterId: string,
): Promise<ReplayOutcome> {
  const [found] = await listDeadLetters(redis, deadLetters, { start: letterId, count: 1 });
  if (!found || found.letterId !== letterId) return { status: 'gone' };
  if (!found.letter.ok) return { status: 'invalid', reason: found.letter.error.message };
  const { stream } = found.letter.value;
  const fields = replayFields(found.letter.value);
  if (isCluster(redis)) {
    const id = (await redis.call('XADD', stream, 'NOMKSTREAM', '*', ...fields)) as string | null;
    if (id === null) return { status: 'nostream', stream };
    await redis.call('XDEL', deadLetters, letterId);
    return { status: 'replayed', stream, id };
  }
  const run = defineLuaCommand(redis, 'pipeReplayDeadLetter', REPLAY_LUA);
  const [status, id] = (await run([deadLetters, stream], [letterId, ...fields])) as [string, string];
  if (status === 'replayed') return { status, stream, id };
  if (status === 'nostream') return { status, stream };
  return { status: 'gone' };
}
