import { formatDuration } from '@pipe/service';
import { type Reading, ReadingSchema } from '@pipe/streams';

/** Why a reading breaks the schema (naming the first field), or undefined. */
export function whyInvalid(reading: Reading): string | undefined {
  const parsed = ReadingSchema.safeParse(reading);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `${issue?.path.join('.') || 'reading'}: ${issue?.message ?? 'invalid'}`;
}

/**
 * Why a reading cannot be written any more, or undefined: one whose time + retention is not in the
 * future would be deleted the moment its partition's expiry is set, so it is refused instead.
 */
export function whyOutsideRetention(
  reading: Reading,
  nowMs: number,
  retentionMs: number,
): string | undefined {
  if (reading.ts + retentionMs <= nowMs) {
    return `ts: ${new Date(reading.ts).toISOString()} is older than the retention of ${formatDuration(retentionMs)}; it would expire as it is written`;
  }
  return undefined;
}

/** How far ahead of this clock an ingested reading may be: clock skew, not a unit mistake (s, µs). */
export const FUTURE_ALLOWANCE_MS = 86_400_000;

/** Why an ingested reading's time is implausibly far in the future, or undefined. */
export function whyTooFarAhead(reading: Reading, nowMs: number): string | undefined {
  if (reading.ts <= nowMs + FUTURE_ALLOWANCE_MS) return undefined;
  const when = reading.ts < 8.64e15 ? new Date(reading.ts).toISOString() : String(reading.ts);
  return `ts: ${when} is more than ${formatDuration(FUTURE_ALLOWANCE_MS)} in the future (epoch milliseconds expected)`;
}
