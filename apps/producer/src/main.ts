#!/usr/bin/env node
import {
  configFrom,
  createLogger,
  exitOnStartupError,
  type Logger,
  withConnectionFlags,
} from '@pipe/service';
import { Command } from 'commander';
import type { z } from 'zod';
import { backfillCommand } from './commands/backfill.js';
import { EXIT_CODES_HELP } from './commands/exit-codes.js';
import { ingestCommand } from './commands/ingest.js';
import { resetCommand } from './commands/reset.js';
import { runCommand } from './commands/run.js';
import { backfillSchema, COMMAND_ENV, ingestSchema, resetSchema, runSchema } from './config.js';

const program = new Command('pipe-producer')
  .description(
    'Writes sensor readings into daily partition streams <prefix>:YYYYMMDD (UTC day of each reading).',
  )
  .addHelpText('after', EXIT_CODES_HELP);

/** Flags of every command that writes readings. */
function withWriterFlags(command: Command): Command {
  return withConnectionFlags(command)
    .option(
      '--retention <duration>',
      'keep a partition this long after its newest reading (default 2d, at most 3650d) [env RETENTION]',
    )
    .option('--id-from-time', 'write <ts>-* IDs (RU202 layout; one ordered producer) [env ID_FROM_TIME]')
    .option(
      '--give-up-after <duration>',
      'exit 3 when Redis stays unavailable this long (default 60s) [env GIVE_UP_AFTER]',
    )
    .option('--batch-size <n>', 'readings (ingest: input lines) per batch, at most 5000 (default 1000)')
    .option(
      '--shards <n>',
      "streams per day, by device, spread over a cluster's masters (default 1: <prefix>:YYYYMMDD) [env SHARDS]",
    )
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', EXIT_CODES_HELP);
}

/** Flags of the commands that simulate devices (run, backfill), then the writer flags. */
function withSimulationFlags(command: Command, defaultSeed: string): Command {
  return withWriterFlags(
    command
      .option('--devices <n>', 'number of devices sensor-001, sensor-002, ... (default 3, at most 10000)')
      .option(
        '--interval <duration>',
        'time between two readings of a device, whole ms (run: simulated time; default 1s)',
      )
      .option('--seed <seed>', `seed of the simulated values (default: ${defaultSeed})`),
  );
}

/** Loads a command's config (every problem listed, exit 1, before connecting), runs it, exits with its status. */
function action<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
  run: (config: z.infer<S>, log: Logger) => Promise<number>,
) {
  return async (flags: Record<string, unknown>) => {
    let config: z.infer<S>;
    try {
      config = configFrom(schema, flags, env);
    } catch (err) {
      exitOnStartupError(err);
    }
    const log = createLogger('producer', (config as { logLevel: string }).logLevel);
    const code = await run(config, log);
    log.flush?.();
    process.stdout.write('', () => process.exit(code));
  };
}

withSimulationFlags(
  program
    .command('run')
    .description('simulate devices in real time (temperature °F and humidity % as bounded random walks)')
    .option('--speed <k>', 'simulated time runs k times faster than real time (default 1)')
    .option('--duration <duration>', 'stop after this much real time (default: run until SIGINT/SIGTERM)'),
  'the current time',
).action(action(runSchema, COMMAND_ENV.run, runCommand));

withSimulationFlags(
  program
    .command('backfill')
    .description('write a deterministic sample data set (same flags, same readings); default: the last 24 h')
    .option('--from <time>', 'first reading, ISO-8601 with a zone or epoch ms (default: --to minus 24h)')
    .option('--to <time>', 'end, exclusive (default: now, on a whole interval)'),
  '1',
).action(action(backfillSchema, COMMAND_ENV.backfill, backfillCommand));

withWriterFlags(
  program
    .command('ingest')
    .description(
      'load readings from NDJSON or CSV (fields device, ts, temp_f, humidity?), streamed line by line',
    )
    .option('--file <path>', 'input file, or - for stdin (default -)')
    .option('--format <format>', 'ndjson | csv (default: csv for *.csv, else ndjson); CSV needs a header row')
    .option('--strict', 'stop at the first bad record (exit 2); the records before it still land')
    .option('--rejects <path>', 'write every rejected line as JSON {line, reason, input} to this file'),
).action(action(ingestSchema, COMMAND_ENV.ingest, ingestCommand));

withConnectionFlags(
  program
    .command('reset')
    .description(
      'delete every key of the pipeline under the prefix (partitions, averages, state), printing each',
    )
    .option('--yes', 'really delete; without it the keys are only listed (exit 1)'),
).action(action(resetSchema, COMMAND_ENV.reset, resetCommand));

program.parseAsync().catch(exitOnStartupError);
