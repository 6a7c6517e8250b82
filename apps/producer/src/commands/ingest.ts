import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from '@pipe/service';
import { type IngestConfig, inputFormat } from '../config.js';
import { Ingestion } from '../ingest/ingestion.js';
import { type LineSource, RejectionLog } from '../ingest/rejection-log.js';
import { summarize } from '../summary.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { printOutcome } from './output.js';
import { openWriterSession } from './writer-session.js';

export async function ingestCommand(config: IngestConfig, log: Logger): Promise<number> {
  const fromStdin = config.file === '-';
  let input: Readable;
  let rejections: RejectionLog;
  try {
    // A missing input or an unwritable rejects file is a usage error, reported before connecting.
    input = fromStdin ? process.stdin : await openInput(config.file);
    rejections = await RejectionLog.open(fromStdin ? 'stdin' : config.file, process.stderr, config.rejects);
  } catch (err) {
    process.stderr.write(`ingest: ${(err as Error).message}\n`);
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
  const release = interruptOnSignals(() => ingestion.stop());
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
    summary,
    config.json,
    failure,
    () => `input after line ${ingestion.linesHanded} (${ingestion.linesRead} lines read)`,
  );
  await session.close();
  return exitCodeFor(summary, failure, interrupted);
}

function openInput(path: string): Promise<Readable> {
  const stream = createReadStream(path);
  return new Promise((resolve, reject) => stream.once('open', () => resolve(stream)).once('error', reject));
}
