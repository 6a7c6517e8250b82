import {
  type DeadLetterEntry,
  type Durability,
  listDeadLetters,
  type PipelineKeys,
  type RedisClient,
  type ReplayOutcome,
  replayDeadLetter,
} from '@pipe/streams';
import { table } from './status-table.js';

/** Letters per XRANGE page when walking the whole dead-letter stream. */
const PAGE = 500;

/** Every letter, oldest first, a page at a time. */
export async function* allDeadLetters(
  redis: RedisClient,
  keys: PipelineKeys,
): AsyncGenerator<DeadLetterEntry> {
  let start = '-';
  for (;;) {
    const page = await listDeadLetters(redis, keys.deadLetters, { start, count: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    start = `(${page[page.length - 1]!.letterId}`;
  }
}

/** A letter as a JSON-friendly object: its ID in the dead-letter stream plus the letter (or the decode error). */
export function letterJson(entry: DeadLetterEntry): Record<string, unknown> {
  return entry.letter.ok
    ? { letterId: entry.letterId, ...entry.letter.value }
    : { letterId: entry.letterId, invalid: entry.letter.error.message };
}

export function renderDeadLetters(entries: DeadLetterEntry[]): string {
  return table(
    ['LETTER', 'STREAM', 'ID', 'GROUP', 'CONSUMER', 'DELIVERIES', 'DEAD AT', 'REASON'],
    entries.map(({ letterId, letter }) =>
      letter.ok
        ? [
            letterId,
            letter.value.stream,
            letter.value.id,
            letter.value.group,
            letter.value.consumer,
            String(letter.value.deliveries),
            new Date(letter.value.dead_at).toISOString(),
            letter.value.reason,
          ]
        : [letterId, '?', '?', '?', '?', '?', '?', `undecodable letter: ${letter.error.message}`],
    ),
  );
}

export interface ReplayReport {
  replayed: { letterId: string; stream: string; id: string }[];
  failed: { letterId: string; outcome: Exclude<ReplayOutcome, { status: 'replayed' }> }[];
}

/** Replays the given letters (or all of them), each atomically; a letter that cannot be replayed stays. */
export async function replayLetters(
  redis: RedisClient,
  keys: PipelineKeys,
  letterIds: string[] | 'all',
  durability?: Durability,
): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: [], failed: [] };
  const ids: string[] = [];
  if (letterIds === 'all') for await (const e of allDeadLetters(redis, keys)) ids.push(e.letterId);
  else ids.push(...letterIds);
  for (const letterId of ids) {
    const outcome = await replayDeadLetter(redis, keys.deadLetters, letterId, { durability });
    if (outcome.status === 'replayed')
      report.replayed.push({ letterId, stream: outcome.stream, id: outcome.id });
    else report.failed.push({ letterId, outcome });
  }
  return report;
}

/** Deletes the dead-letter stream; returns how many letters it held. */
export async function purgeDeadLetters(redis: RedisClient, keys: PipelineKeys): Promise<number> {
  const [[, length]] = (await redis.multi().xlen(keys.deadLetters).del(keys.deadLetters).exec()) as [
    [null, number],
    unknown,
  ];
  return length;
}
