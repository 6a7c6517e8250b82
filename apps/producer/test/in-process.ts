import { Readable, Writable } from 'node:stream';
import type { Logger } from '@pipe/service';
import type { ProcessExit } from '@pipe/testkit';
import { pino } from 'pino';
import { backfillCommand } from '../src/commands/backfill.js';
import type { CommandIo } from '../src/commands/command-io.js';
import { ingestCommand } from '../src/commands/ingest.js';
import { resetCommand } from '../src/commands/reset.js';
import { runCommand } from '../src/commands/run.js';
import { backfillSchema, ingestSchema, resetSchema, runSchema } from '../src/config.js';

/**
 * A command as `pipe-producer <command>` runs it, but in the test's own process: the same config
 * schema reads the flags, the same command body runs against the shared redis-server, and what it
 * prints is captured. Coverage sees it, and a test costs no node start-up. The process itself (its
 * signals, exit, start-up errors, --help) is tested through producer-process.ts.
 */
const COMMANDS = {
  run: { schema: runSchema, body: runCommand },
  backfill: { schema: backfillSchema, body: backfillCommand },
  ingest: { schema: ingestSchema, body: ingestCommand },
  reset: { schema: resetSchema, body: resetCommand },
} as const;

export type CommandName = keyof typeof COMMANDS;

/** Flags by their config name (`redisUrl`, `idFromTime`), as text the way commander hands them over. */
export type Flags = Record<string, string | boolean | undefined>;

export interface InProcessOptions {
  /** `ingest --file -` reads this. */
  input?: string | Iterable<string> | AsyncIterable<string>;
  /** The pino level of the command's logs, which go to its stdout as in the process (default warn). */
  logLevel?: string;
}

/** Exit status and output of a command run in-process: the shape of a process's, for the same assertions. */
export type CommandRun = ProcessExit & { code: number };

/** A stream that keeps what is written to it. */
export function textSink(): Writable & { text(): string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(sink, { text: () => chunks.join('') });
}

export async function runInProcess(
  command: CommandName,
  flags: Flags,
  { input = '', logLevel = 'warn' }: InProcessOptions = {},
): Promise<CommandRun> {
  const stdout = textSink();
  const stderr = textSink();
  const io: CommandIo = {
    stdin: Readable.from(typeof input === 'string' ? [input] : input),
    stdout,
    stderr,
    handleSignals: false,
  };
  const { schema, body } = COMMANDS[command];
  const config = schema.parse(flags);
  const log = pino({ level: logLevel, base: { service: 'producer' } }, stdout);
  const code = await (body as (config: unknown, log: Logger, io: CommandIo) => Promise<number>)(
    config,
    log,
    io,
  );
  return { code, signal: null, stdout: stdout.text(), stderr: stderr.text() };
}
