import { describeRedisFailure, formatDuration } from '@pipe/service';
import type { Writable } from 'node:stream';
import type { Reading } from '@pipe/streams';
import { GaveUpError } from '../errors.js';
import { formatSummary, type Summary } from '../summary.js';
import type { CommandIo } from './command-io.js';

/** Reports a simulated reading the writer refused on `stderr`. */
export function reportRejectedReading(stderr: Writable): (reading: Reading, reason: string) => void {
  return (reading, reason) => {
    stderr.write(`${reading.device} at ${new Date(reading.ts).toISOString()}: ${reason}\n`);
  };
}

/**
 * The summary on stdout (text, or one JSON object with --json) and, when the command failed, what
 * happened and what was and was not written on stderr.
 */
export function printOutcome(
  io: Pick<CommandIo, 'stdout' | 'stderr'>,
  summary: Summary,
  json: boolean,
  failure: unknown,
  notSent: () => string,
): void {
  io.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
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
  io.stderr.write(`${lines.join('\n')}\n`);
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
