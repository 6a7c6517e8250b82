import type { Readable } from 'node:stream';
import type { Logger } from '@pipe/service';
import { type IngestConfig, inputFormat } from '../config.js';
import { Ingestion } from '../ingest/ingestion.js';
import { type InputFile, InputError, openInput } from '../ingest/input-file.js';
import { inputOverwrittenBy } from '../ingest/overwrite-check.js';
import { type LineSource, RejectionLog } from '../ingest/rejection-log.js';
import { summarize } from '../summary.js';
import { forTerminal } from '../terminal-text.js';
import { type CommandIo, processIo } from './command-io.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { printOutcome } from './output.js';
import { openWriterSession } from './writer-session.js';

/** Loads the readings of a file or stdin; a re-run of the same input writes nothing twice. */
export async function ingestCommand(
  config: IngestConfig,
  log: Logger,
  io: CommandIo = processIo,
): Promise<number> {
  let input: Readable;
  let rejections: RejectionLog;
  try {
    ({ input, rejections } = await openFiles(config, io));
  } catch (err) {
    io.stderr.write(`ingest: ${forTerminal((err as Error).message)}\n`);
    return EXIT.usage;
  }
  // Running the same input again writes only what an earlier run did not (skipWritten).
  const session = await openWriterSession<LineSource>(
    config,
    log,
    (source, reason) => rejections.record(source, reason),
    { skipWritten: true },
  );
  const ingestion = new Ingestion({
    input,
    format: inputFormat(config),
    strict: config.strict,
    batchLines: config.batchSize,
    writer: session.writer,
    rejections,
  });
  const release = io.handleSignals ? interruptOnSignals(() => ingestion.stop()) : () => {};
  // From here a signal ends the input and what was read is still written: the line says when that holds.
  log.debug({ file: config.file }, 'reading input');
  const started = performance.now();
  let failure: unknown;
  let stopped: string | undefined;
  let interrupted = false;
  try {
    await session.writer.start();
    const result = await ingestion.run();
    await session.writer.flush();
    interrupted = result.interrupted;
    if (result.stoppedAtLine !== undefined)
      stopped = `at line ${result.stoppedAtLine} (--strict or an unreadable header)`;
    if (interrupted) stopped = `interrupted after line ${result.lines}`;
  } catch (err) {
    failure = err;
    await session.writer.flush().catch(() => {});
  }
  release();
  await rejections.close();
  const summary = summarize('ingest', session.writer.stats, (performance.now() - started) / 1000, {
    unconfirmed: session.writer.unconfirmedCount,
    stopped,
  });
  printOutcome(
    io,
    summary,
    config.json,
    failure,
    () => `input after line ${ingestion.linesHanded} (${ingestion.linesRead} lines read)`,
  );
  await session.close();
  return exitCodeFor(summary, failure, interrupted);
}

/**
 * The input and the rejection log. Usage errors, thrown before connecting: a missing, unreadable or
 * directory input, a rejects file that is the input (checked before it is opened for writing, which
 * would truncate it) or cannot be written.
 */
async function openFiles(
  config: IngestConfig,
  io: CommandIo,
): Promise<{ input: Readable; rejections: RejectionLog }> {
  const input: InputFile = await openInput(config.file, io.stdin);
  try {
    const overwritten = config.rejects ? await inputOverwrittenBy(config.rejects, input) : undefined;
    if (overwritten) {
      throw new InputError(
        `--rejects ${config.rejects} is the input (${overwritten}); nothing was read or written`,
      );
    }
    const label = config.file === '-' ? 'stdin' : config.file;
    return {
      input: input.stream,
      rejections: await RejectionLog.open(label, io.stderr, config.rejects),
    };
  } catch (err) {
    input.stream.destroy();
    throw err;
  }
}
