#!/usr/bin/env node
import {
  type CommandConfig,
  createLogger,
  exitOnStartupError,
  type Logger,
  type Settings,
} from '@pipe/service';
import { Command } from 'commander';
import type { z } from 'zod';
import { backfillCommand } from './commands/backfill.js';
import { EXIT_CODES_HELP } from './commands/exit-codes.js';
import { httpCommand } from './commands/http.js';
import { ingestCommand } from './commands/ingest.js';
import { mqttCommand } from './commands/mqtt.js';
import { RESET_DESCRIPTION, resetCommand } from './commands/reset.js';
import { runCommand } from './commands/run.js';
import { backfillConfig, httpConfig, ingestConfig, mqttConfig, resetConfig, runConfig } from './config.js';

const program = new Command('pipe-producer')
  .description(
    'Writes sensor readings into daily partition streams <prefix>:YYYYMMDD (UTC day of each reading).',
  )
  .addHelpText('after', EXIT_CODES_HELP);

/**
 * Adds a command with its settings. When run, its config is loaded (every problem listed, exit 1,
 * before connecting), the command runs, and the process exits with its status once stdout is written.
 */
function command<S extends z.ZodType>(
  name: string,
  description: string,
  config: CommandConfig<Settings, S>,
  run: (config: z.infer<S>, log: Logger) => Promise<number>,
): Command {
  return config
    .addTo(program.command(name))
    .description(description)
    .action(async (flags: Record<string, unknown>) => {
      const loaded = config.read(flags);
      const log = createLogger('producer', (loaded as { logLevel: string }).logLevel);
      const code = await run(loaded, log);
      log.flush?.();
      process.stdout.write('', () => process.exit(code));
    });
}

command(
  'run',
  'simulate devices in real time (temperature °F and humidity % as bounded random walks)',
  runConfig,
  runCommand,
).addHelpText('after', EXIT_CODES_HELP);

command(
  'backfill',
  'write a deterministic sample data set (same flags, same readings); default: the last 24 h',
  backfillConfig,
  backfillCommand,
).addHelpText('after', EXIT_CODES_HELP);

command(
  'ingest',
  'load readings from NDJSON or CSV (fields device, ts, temp_f, humidity?), streamed line by line',
  ingestConfig,
  ingestCommand,
).addHelpText('after', EXIT_CODES_HELP);

command(
  'http',
  'serve POST /v1/readings (NDJSON or a JSON array; bearer token), answered once the readings are written',
  httpConfig,
  httpCommand,
);

command(
  'mqtt',
  'bridge MQTT readings (QoS 1, persistent session) into the partitions, acknowledging each message once written',
  mqttConfig,
  mqttCommand,
);

command('reset', RESET_DESCRIPTION, resetConfig, resetCommand);

program.parseAsync().catch(exitOnStartupError);
