import { type Logger, stopOnSignals } from '@pipe/service';
import type { Reading } from '@pipe/streams';
import type { RunConfig } from '../config.js';
import { LiveSimulation } from '../live-simulation.js';
import { seedFrom } from '../simulator.js';
import { summarize } from '../summary.js';
import { exitCodeFor } from './exit-codes.js';
import { type CommandIo, processIo } from './command-io.js';
import { printOutcome, reportRejectedReading } from './output.js';
import { openWriterSession } from './writer-session.js';

/** Simulates devices until stopped (SIGINT/SIGTERM), --duration, or Redis stays away too long. */
export async function runCommand(config: RunConfig, log: Logger, io: CommandIo = processIo): Promise<number> {
  const session = await openWriterSession<Reading>(config, log, reportRejectedReading(io.stderr));
  const seed = config.seed ?? String(Date.now());
  const simulation = new LiveSimulation({
    devices: config.devices,
    intervalMs: config.interval,
    speed: config.speed,
    seed: seedFrom(seed),
    batchSize: config.batchSize,
    writer: session.writer,
    durationMs: config.duration,
  });
  const started = performance.now();
  let failure: unknown;
  let finishing: Promise<number> | undefined;
  // Memoised: the signal handler and the end of the loop both finish, the summary prints once.
  const finish = (): Promise<number> => (finishing ??= report());
  const report = async (): Promise<number> => {
    const summary = summarize('run', session.writer.stats, (performance.now() - started) / 1000, {
      unconfirmed: session.writer.unconfirmedCount,
    });
    printOutcome(io, summary, config.json, failure, () => '');
    log.info({ ...summary }, 'simulation stopped');
    await session.close();
    return exitCodeFor(summary, failure);
  };
  try {
    await session.writer.start();
  } catch (err) {
    failure = err;
    return finish();
  }
  log.info(
    { devices: config.devices, interval: config.interval, speed: config.speed, seed },
    'simulation started',
  );
  simulation.start();
  if (io.handleSignals)
    stopOnSignals(
      {
        async stop() {
          await simulation.stop();
          await finish();
        },
      },
      log,
      config.giveUpAfter + 5000,
    );
  try {
    await simulation.done;
  } catch (err) {
    failure = err;
    await session.writer.flush().catch(() => {});
  }
  return finish();
}
