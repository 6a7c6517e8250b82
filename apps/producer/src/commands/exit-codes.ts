import { EXIT_REDIS_UNAVAILABLE } from '@pipe/service';
import { GaveUpError, WriteFailedError } from '../errors.js';
import type { Summary } from '../summary.js';

/** Exit statuses, as documented in --help and the README. */
export const EXIT = {
  ok: 0,
  /** Invalid configuration or usage (before connecting). */
  usage: 1,
  /** Some records were rejected (each reported on stderr and in --rejects), or --strict stopped. */
  rejected: 2,
  /** Redis stayed unavailable for --give-up-after: the same status as every batch command of pipe. */
  gaveUp: EXIT_REDIS_UNAVAILABLE,
  /** Redis refused a write for good (e.g. a key of the wrong type). */
  writeFailed: 4,
  /** Stopped by SIGINT/SIGTERM before the input was done. */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit status:
  0    every reading landed
  1    invalid configuration or usage (nothing written)
  2    some records were rejected (see stderr and --rejects), or --strict stopped at one
  3    Redis stayed unavailable for --give-up-after; the summary says what was and was not written
  4    Redis refused a write in a way a retry cannot fix (e.g. a key of the wrong type)
  130  interrupted by SIGINT/SIGTERM (even with records rejected); what was read was written first`;

export function exitCodeFor(summary: Summary, failure: unknown, interrupted = false): number {
  if (failure instanceof GaveUpError) return EXIT.gaveUp;
  if (failure instanceof WriteFailedError) return EXIT.writeFailed;
  if (failure) throw failure;
  // Before `rejected`: a script must learn that the input was not read to its end, to run it again.
  if (interrupted) return EXIT.interrupted;
  return summary.rejected > 0 ? EXIT.rejected : EXIT.ok;
}
