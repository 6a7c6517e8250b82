import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from '@pipe/service';
import { type IngestConfig, inputFormat } from '../config.js';
import { Ingestion } from '../ingest/ingestion.js';
import { type LineSource, RejectionLog } from '../ingest/rejection-log.js';
import { summarize } from '../summary.js';
import { exitCodeFor } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { printOutcome } from './output.js';
import { openWriterSession } from './writer-session.js';

export async function ingestCommand(config: IngestConfig, log: Logger): Promise<number> {
  const fromStdin = config.file === '-';
  const input: Readable = fromStdin ? process.stdin : createReadStream(config.file);
  // Surface a missing or unreadable file before connecting.
  if (!fromStdin)
    await new Promise<void>((resolve, reject) => input.once('open', resolve).once('error', reject));
  const rejections = await RejectionLog.open(
    fromStdin ? 'stdin' : config.file,
    process.stderr,
    config.rejects,
  );
  const session = await openWriterSession<LineSource>(config, log, (source, reason) =>
    rejections.record(source, reason),
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
