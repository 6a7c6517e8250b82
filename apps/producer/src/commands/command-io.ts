import type { Readable, Writable } from 'node:stream';

/**
 * What a command reads and prints through, and whether it answers SIGINT/SIGTERM itself: the
 * process's own for `pipe-producer`; streams of their own for tests that run a command in-process
 * (where a signal handler would outlive the command in the test worker).
 */
export interface CommandIo {
  /** The input of `ingest --file -`. */
  readonly stdin: Readable;
  /** The summary and `reset`'s list of keys: the output scripts read. */
  readonly stdout: Writable;
  /** Rejected records and what went wrong. */
  readonly stderr: Writable;
  readonly handleSignals: boolean;
}

export const processIo: CommandIo = {
  // A getter: touching process.stdin opens it, which only `ingest` of stdin should do.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  handleSignals: true,
};
