import type { Logger } from '@pipe/service';
import type { Reading } from '@pipe/streams';
import { Backfill, backfillSize } from '../backfill.js';
import type { BackfillConfig } from '../config.js';
import { ProgressBar } from '../progress-bar.js';
import { seedFrom } from '../simulator.js';
import { summarize } from '../summary.js';
import { exitCodeFor } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { printOutcome, rejectedReading } from './output.js';
import { openWriterSession } from './writer-session.js';

export async function backfillCommand(config: BackfillConfig, log: Logger): Promise<number> {
  const session = await openWriterSession<Reading>(config, log, rejectedReading, { skipWritten: true });
  const span = { fromMs: config.from, toMs: config.to, intervalMs: config.interval, devices: config.devices };
  const bar = ProgressBar.forTerminal(process.stderr, backfillSize(span));
  const backfill = new Backfill({
    ...span,
    seed: seedFrom(config.seed),
    batchSize: config.batchSize,
    writer: session.writer,
    onProgress: bar ? (n) => bar.update(n) : undefined,
  });
  const release = interruptOnSignals(() => backfill.stop());
  const started = performance.now();
  let failure: unknown;
  let interrupted = false;
  try {
    await session.writer.start();
    ({ interrupted } = await backfill.run());
    await session.writer.flush();
  } catch (err) {
    failure = err;
    await session.writer.flush().catch(() => {});
  }
  release();
  bar?.finish(backfill.produced);
  const { stats } = session.writer;
  const summary = summarize('backfill', stats, (performance.now() - started) / 1000, {
    unconfirmed: session.writer.unconfirmedCount,
    stopped: interrupted
      ? `interrupted; readings from ${new Date(backfill.nextTs).toISOString()} on were not written`
      : undefined,
  });
  printOutcome(summary, config.json, failure, () => {
    const notSent = backfill.total - backfill.produced;
    return notSent > 0
      ? `${notSent} readings from ${new Date(backfill.nextTs).toISOString()} on were not sent`
      : '';
  });
  await session.close();
  return exitCodeFor(summary, failure, interrupted);
}
