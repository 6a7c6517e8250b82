import type { Logger } from '@pipe/service';
import type { Reading } from '@pipe/streams';
import type { BackfillConfig } from '../config.js';
import { ProgressBar } from '../progress-bar.js';
import { SampleDataSet, sampleDataSetSize } from '../sample-data-set.js';
import { seedFrom } from '../simulator.js';
import { summarize } from '../summary.js';
import { exitCodeFor } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { type CommandIo, processIo } from './command-io.js';
import { printOutcome, reportRejectedReading } from './output.js';
import { openWriterSession } from './writer-session.js';

/** Writes the sample data set the flags describe; a re-run of the same flags writes nothing twice. */
export async function backfillCommand(
  config: BackfillConfig,
  log: Logger,
  io: CommandIo = processIo,
): Promise<number> {
  const session = await openWriterSession<Reading>(config, log, reportRejectedReading(io.stderr), {
    skipWritten: true,
  });
  const span = { fromMs: config.from, toMs: config.to, intervalMs: config.interval, devices: config.devices };
  const bar = ProgressBar.forTerminal(io.stderr, sampleDataSetSize(span));
  const dataSet = new SampleDataSet({
    ...span,
    seed: seedFrom(config.seed),
    batchSize: config.batchSize,
    writer: session.writer,
    onProgress: bar ? (n) => bar.update(n) : undefined,
  });
  const release = io.handleSignals ? interruptOnSignals(() => dataSet.stop()) : () => {};
  const started = performance.now();
  let failure: unknown;
  let interrupted = false;
  try {
    await session.writer.start();
    ({ interrupted } = await dataSet.run());
    await session.writer.flush();
  } catch (err) {
    failure = err;
    await session.writer.flush().catch(() => {});
  }
  release();
  bar?.finish(dataSet.produced);
  const { stats } = session.writer;
  const summary = summarize('backfill', stats, (performance.now() - started) / 1000, {
    unconfirmed: session.writer.unconfirmedCount,
    stopped: interrupted
      ? `interrupted; readings from ${new Date(dataSet.nextTs).toISOString()} on were not written`
      : undefined,
  });
  printOutcome(io, summary, config.json, failure, () => {
    const notSent = dataSet.total - dataSet.produced;
    return notSent > 0
      ? `${notSent} readings from ${new Date(dataSet.nextTs).toISOString()} on were not sent`
      : '';
  });
  await session.close();
  return exitCodeFor(summary, failure, interrupted);
}
