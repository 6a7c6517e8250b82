#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type ConnectionConfig,
  createLogger,
  exitOnStartupError,
  type Logger,
  registerPipelineGauges,
  runBatchCommand,
  runService,
} from '@pipe/service';
import { Command } from 'commander';
import type { CommandIo } from './commands/command-io.js';
import { dlqListCommand } from './commands/dlq-list.js';
import { dlqPurgeCommand } from './commands/dlq-purge.js';
import { dlqReplayCommand } from './commands/dlq-replay.js';
import { onceCommand } from './commands/once.js';
import { statusCommand } from './commands/status.js';
import {
  dlqListConfig,
  dlqPurgeConfig,
  dlqReplayConfig,
  onceConfig,
  runConfig,
  statusConfig,
  sweepPolicyOf,
} from './config.js';
import { ReaperMetrics } from './metrics.js';
import { Reaper } from './reaper.js';

const program = new Command('pipe-reaper')
  .description(
    'Recovers pending entries of crashed consumers, dead-letters poison entries, keeps consumer groups clean.',
  )
  .showHelpAfterError();

/** Runs a one-shot command on its own connection, on stdout and stderr; its result is the exit status. */
async function oneShot(
  config: ConnectionConfig & { giveUpAfter: number },
  name: string,
  command: (io: CommandIo) => Promise<number>,
  log?: Logger,
): Promise<void> {
  process.exitCode = await runBatchCommand(
    config,
    { program: program.name(), connectionName: `pipe-reaper:${name}` },
    (redis, keys) => command({ redis, keys, out: process.stdout, err: process.stderr, log }),
  );
}

runConfig
  .addTo(program.command('run'))
  .description('sweep every interval while holding the lease; SIGTERM/SIGINT stop and release it')
  .action(async (flags: Record<string, unknown>) => {
    const config = runConfig.read(flags);
    const holder = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    await runService(config, {
      service: 'reaper',
      program: program.name(),
      connectionName: `pipe-reaper:${holder}`,
      create: ({ redis, keys, log, registry }) => {
        // The reaper is the service operators watch: it also exports lag, pending and stream sizes.
        registerPipelineGauges(registry, redis, keys);
        return new Reaper(
          { ...sweepPolicyOf(config), intervalMs: config.interval, leaseTtlMs: config.leaseTtl, holder },
          { redis, keys, log, metrics: new ReaperMetrics(registry) },
        );
      },
    });
  });

onceConfig
  .addTo(program.command('once'))
  .description(
    'one sweep with the same flags, print a summary, exit (1 when a group could not be swept, 3 when Redis is unavailable)',
  )
  .action(async (flags: Record<string, unknown>) => {
    const config = onceConfig.read(flags);
    // Logs on stderr: stdout carries the summary alone.
    const log = createLogger('reaper', config.logLevel, { toStderr: true });
    await oneShot(config, 'once', (io) => onceCommand(config, io), log);
  });

statusConfig
  .addTo(program.command('status'))
  .description(
    'partitions, groups, pending entries, lag, side-stream sizes and Redis memory (used, limit, policy, evictions)',
  )
  .action(async (flags: Record<string, unknown>) => {
    const config = statusConfig.read(flags);
    await oneShot(config, 'status', (io) => statusCommand(config, io));
  });

const dlq = program.command('dlq').description('the dead-letter stream');

dlqListConfig
  .addTo(dlq.command('list'))
  .description('list dead letters, oldest first')
  .action(async (flags: Record<string, unknown>) => {
    const config = dlqListConfig.read(flags);
    await oneShot(config, 'dlq', (io) => dlqListCommand(config, io));
  });

dlqReplayConfig
  .addTo(dlq.command('replay'))
  .description(
    'put letters back into their partitions and remove them from the dead-letter stream, atomically',
  )
  .argument('[letterIds...]', 'dead-letter IDs (as dlq list shows them)')
  .action(async (letterIds: string[], flags: Record<string, unknown>) => {
    if (!flags.all && letterIds.length === 0) program.error('dlq replay: give letter IDs or --all');
    const config = dlqReplayConfig.read(flags);
    await oneShot(config, 'dlq', (io) => dlqReplayCommand(config, letterIds, io));
  });

dlqPurgeConfig
  .addTo(dlq.command('purge'))
  .description('delete the dead-letter stream')
  .action(async (flags: Record<string, unknown>) => {
    if (!flags.yes) program.error('dlq purge deletes every dead letter: add --yes');
    const config = dlqPurgeConfig.read(flags);
    await oneShot(config, 'dlq', (io) => dlqPurgeCommand(config, io));
  });

program.parseAsync().catch(exitOnStartupError);
