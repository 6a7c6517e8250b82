import { describeRedisFailure, formatDuration } from '@pipe/service';
import type { Reading } from '@pipe/streams';
import { GaveUpError } from '../errors.js';
import { formatSummary, type Summary } from '../summary.js';

/** A simulated reading the writer refused, on stderr. */
export function rejectedReading(reading: Reading, reason: string): void {
  process.stderr.write(`${reading.device} at ${new Date(reading.ts).toISOString()}: ${reason}\n`);
}

/**
 * The summary on stdout (text, or one JSON object with --json) and, when the command failed, what
 * happened and what was and was not written on stderr.
 */
export function printOutcome(summary: Summary, json: boolean, failure: unknown, notSent: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  if (!failure) return;
  const lines =
    failure instanceof GaveUpError ? [gaveUpLine(failure)] : [`failed: ${(failure as Error).message}`];
  lines.push(`written: ${summary.readings + summary.alreadyPresent} readings are in Redis`);
  if (summary.unconfirmed) {
    lines.push(
      `not confirmed: ${summary.unconfirmed} readings were in batches whose reply never came; re-running the same` +
        ' command recognises those batches that did land and skips them',
    );
  }
  const rest = notSent();
  if (rest) lines.push(`not written: ${rest}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** Why the writer gave up, in the words every service uses (authentication failed, refused, ...). */
function gaveUpLine(err: GaveUpError): string {
  if (err.cause === undefined)
    return `gave up: Redis was unavailable for ${formatDuration(err.giveUpAfterMs)} (no reply)`;
  const { reason, permanent } = describeRedisFailure(err.cause);
  return permanent
    ? `gave up: Redis refused the connection: ${reason}`
    : `gave up: Redis was unavailable for ${formatDuration(err.giveUpAfterMs)} (${reason})`;
}
