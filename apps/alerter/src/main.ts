#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { EXIT_REDIS_UNAVAILABLE, exitOnStartupError, runBatchCommand, runService } from '@pipe/service';
import { Command } from 'commander';
import { Alerter, LeaseLostError } from './alerter.js';
import { statusCommand } from './commands/status.js';
import { runConfig, statusConfig } from './config.js';
import { AlerterMetrics } from './metrics.js';
import { type AlertRule, loadRules, RulesError } from './rules.js';

const program = new Command('pipe-alerter')
  .description('Alert rules per device: transitions written exactly once to the alerts stream.')
  .showHelpAfterError();

/** The rules file, or exit 1 with every problem in it (before connecting). */
function rulesOrExit(file: string): AlertRule[] {
  try {
    return loadRules(file);
  } catch (err) {
    if (!(err instanceof RulesError)) throw err;
    process.stderr.write(`pipe-alerter: ${err.message}\n`);
    process.exit(1);
  }
}

runConfig
  .addTo(program.command('run'))
  .description(
    'apply readings to the rules until stopped (SIGTERM/SIGINT), or until drained with --drain; SIGHUP reloads the rules',
  )
  .action(async (flags: Record<string, unknown>) => {
    const config = runConfig.read(flags);
    const rules = rulesOrExit(config.rules);
    const holder = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    await runService(config, {
      service: 'alerter',
      program: program.name(),
      connectionName: `pipe-alerter:${holder}`,
      giveUpAfterMs: config.drain ? config.giveUpAfter : undefined,
      create: ({ redis, keys, log, registry }) => {
        const metrics = new AlerterMetrics(registry);
        const alerter = new Alerter(
          {
            rules,
            group: config.group,
            consumer: 'alerter',
            drain: config.drain,
            count: config.count,
            blockMs: config.blockMs,
            leaseTtlMs: config.leaseTtl,
            holder,
            silenceCheckMs: config.silenceCheck,
            giveUpAfter: config.giveUpAfter,
            webhook: config.webhook
              ? {
                  url: config.webhook,
                  group: `${config.group}-webhook`,
                  retryBaseMs: 100,
                  retryCapMs: config.webhookRetryCap,
                  timeoutMs: 10_000,
                }
              : undefined,
          },
          { redis, keys, log, metrics },
        );
        // A new file that does not validate is refused: the rules in force stay.
        process.on('SIGHUP', () => {
          try {
            alerter.reload(loadRules(config.rules));
          } catch (err) {
            metrics.reloads.inc({ outcome: 'refused' });
            log.error({ err: (err as Error).message }, 'rules file refused; keeping the rules in force');
          }
        });
        return alerter;
      },
      exitCodeOf: (err, log) => {
        if (err instanceof LeaseLostError) {
          log.error({ err: err.message }, 'lease lost');
          process.stderr.write(`pipe-alerter: ${err.message}\n`);
          return 1;
        }
        if (!config.drain) return undefined;
        log.error({ err }, 'drain gave up');
        process.stderr.write(
          `pipe-alerter: the drain gave up after ${config.giveUpAfter} ms of failures: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        return EXIT_REDIS_UNAVAILABLE;
      },
    });
  });

statusConfig
  .addTo(program.command('status'))
  .description("the lease holder, the alerts firing now, each partition's position and lag")
  .action(async (flags: Record<string, unknown>) => {
    const config = statusConfig.read(flags);
    process.exitCode = await runBatchCommand(
      config,
      { program: program.name(), connectionName: 'pipe-alerter:status' },
      (redis, keys) => statusCommand(config, redis, keys, process.stdout),
    );
  });

program.parseAsync().catch(exitOnStartupError);
