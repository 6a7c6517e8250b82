#!/usr/bin/env node
import { EXIT_REDIS_UNAVAILABLE, exitOnStartupError, runService } from '@pipe/service';
import { Command } from 'commander';
import { Aggregator } from './aggregator.js';
import { runConfig } from './config.js';
import { DrainBlockedError } from './dead-consumers.js';
import { AggregatorMetrics } from './metrics.js';
import { NotOwnerError } from './ownership.js';
import { WindowsMismatchError } from './windows-layout.js';

const program = new Command('pipe-aggregator')
  .description('Counts readings of the daily partitions into exactly one hourly average per hour.')
  .showHelpAfterError();

runConfig
  .addTo(program.command('run'))
  .description(
    'aggregate until stopped (SIGTERM/SIGINT finish the batch in hand), or until drained with --drain',
  )
  .action(async (flags: Record<string, unknown>) => {
    const config = runConfig.read(flags);
    await runService(config, {
      service: 'aggregator',
      program: program.name(),
      connectionName: `pipe-aggregator:${config.consumer}`,
      // A drain is a batch job: it ends with exit 3 when Redis stays away; a live aggregator keeps retrying.
      giveUpAfterMs: config.drain ? config.giveUpAfter : undefined,
      create: ({ redis, keys, log, registry }) =>
        new Aggregator(config, { redis, keys, log, metrics: new AggregatorMetrics(registry) }),
      exitCodeOf: (err, log) => {
        if (err instanceof WindowsMismatchError) {
          log.error({ err: err.message }, 'not the window layout the pipeline counts with');
          process.stderr.write(`pipe-aggregator: ${err.message}\n`);
          return 1;
        }
        if (err instanceof NotOwnerError) {
          log.error({ err: err.message }, 'not the counting group');
          process.stderr.write(`pipe-aggregator: ${err.message}\n`);
          return 1;
        }
        if (err instanceof DrainBlockedError) {
          // --adopt-after off: a dead consumer's entries held the drain up for --give-up-after. Exit 3 as
          // every other give-up of a batch command: the drain could not finish, nothing is wrong with its input.
          log.error({ err: err.message }, 'drain gave up');
          process.stderr.write(`pipe-aggregator: ${err.message}\n`);
          return EXIT_REDIS_UNAVAILABLE;
        }
        if (!config.drain) return undefined;
        // The drain's reads or writes kept failing for --give-up-after (Redis out of memory, say).
        log.error({ err }, 'drain gave up');
        process.stderr.write(
          `pipe-aggregator: the drain gave up after ${config.giveUpAfter} ms of failures: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        return EXIT_REDIS_UNAVAILABLE;
      },
    });
  });

program.parseAsync().catch(exitOnStartupError);
