#!/usr/bin/env node
import {
  configFrom,
  createLogger,
  createRegistry,
  EXIT_REDIS_UNAVAILABLE,
  exitOnStartupError,
  GIVE_UP_ENV,
  giveUpShape,
  openRedis,
  startMetricsServer,
  stopOnSignals,
  withConnectionFlags,
  withGiveUpFlag,
} from '@pipe/service';
import { redactUrl } from '@pipe/streams';
import { Command } from 'commander';
import { Aggregator } from './aggregator.js';
import { AGGREGATOR_ENV, aggregatorConfigSchema } from './config.js';
import { DrainBlockedError } from './dead-consumers.js';
import { AggregatorMetrics } from './metrics.js';
import { NotOwnerError } from './ownership.js';

const program = new Command('pipe-aggregator')
  .description('Counts readings of the daily partitions into exactly one hourly average per hour.')
  .showHelpAfterError();

const runSchema = aggregatorConfigSchema.extend(giveUpShape);

withConnectionFlags(
  withGiveUpFlag(program.command('run'), 'with --drain: ')
    .description(
      'aggregate until stopped (SIGTERM/SIGINT finish the batch in hand), or until drained with --drain',
    )
    .option('--group <name>', 'consumer group [env AGGREGATOR_GROUP] (default aggregator)')
    .option(
      '--take-over',
      'hand the averages to --group from the group that counts them now (stop its aggregators first)',
    )
    .option('--consumer <name>', 'consumer name [env AGGREGATOR_CONSUMER] (default host-pid)')
    .option(
      '--grace <duration>',
      'allowed event-time lateness after an hour ends [env AGGREGATOR_GRACE] (default 5s)',
    )
    .option(
      '--idle-close <duration>',
      'after this long caught up with no new reading, publish the open hours whose end is at least this long and --grace ago on the clock [env AGGREGATOR_IDLE_CLOSE] (default 60s)',
    )
    .option(
      '--max-ahead <duration>',
      'how far ahead of the clock stream time may run [env AGGREGATOR_MAX_AHEAD] (default 0s)',
    )
    .option(
      '--keep-hours <n>',
      'hourly averages kept (XADD MAXLEN ~) [env AGGREGATOR_KEEP_HOURS] (default 120)',
    )
    .option(
      '--alert-above <tempF>',
      'append readings above this °F to the alerts stream [env AGGREGATOR_ALERT_ABOVE]',
    )
    .option('--drain', 'process everything present, publish every hour including the last, exit 0')
    .option('--count <n>', 'entries per partition and read [env AGGREGATOR_BATCH] (default 500)')
    .option('--block-ms <duration>', 'blocking read timeout (default 1s)')
    .option(
      '--pending-check <duration>',
      'how often to re-read own pending entries, e.g. claimed by the reaper (default 2s)',
    )
    .option(
      '--min-idle <duration>',
      'with --drain: a consumer of the group not seen for this long is dead, and its pending entries (idle as long) may be adopted [env AGGREGATOR_MIN_IDLE] (default 60s, as the reaper)',
    )
    .option(
      '--adopt-after <duration|off>',
      "with --drain: while a dead consumer's pending entries hold the drain up (warned every 5s), wait this long, then claim them to this consumer and count them; off: exit 3 after --give-up-after instead [env AGGREGATOR_ADOPT_AFTER] (default 30s)",
    )
    .option(
      '--max-deliveries <n>',
      'with --drain: adopted entries delivered this often go to the dead-letter stream, as the reaper does [env AGGREGATOR_MAX_DELIVERIES] (default 5)',
    ),
).action(async (flags: Record<string, unknown>) => {
  let config: ReturnType<typeof runSchema.parse>;
  try {
    config = configFrom(runSchema, flags, { ...AGGREGATOR_ENV, ...GIVE_UP_ENV });
  } catch (err) {
    exitOnStartupError(err);
  }
  const log = createLogger('aggregator', config.logLevel);
  // A drain is a batch job: it ends with exit 3 when Redis stays away; a live aggregator keeps retrying.
  const batch = config.drain ? { program: program.name(), giveUpAfterMs: config.giveUpAfter } : undefined;
  const { redis, keys, done } = openRedis(config, `pipe-aggregator:${config.consumer}`, batch, log);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  log.info({ redisUrl: redactUrl(config.redisUrl), prefix: config.prefix }, 'connecting');
  const registry = createRegistry('aggregator');
  const aggregator = new Aggregator(config, { redis, keys, log, metrics: new AggregatorMetrics(registry) });
  const server =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          registry,
          { redis, isRunning: () => aggregator.isRunning },
          config.metricsHost,
        );
  stopOnSignals({ stop: () => aggregator.stop() }, log);
  try {
    await aggregator.run();
  } catch (err) {
    if (err instanceof NotOwnerError) {
      log.error({ err: err.message }, 'not the counting group');
      process.stderr.write(`pipe-aggregator: ${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof DrainBlockedError) {
      // --adopt-after off: a dead consumer's entries held the drain up for --give-up-after. Exit 3 as
      // every other give-up of a batch command: the drain could not finish, nothing is wrong with its input.
      log.error({ err: err.message }, 'drain gave up');
      process.stderr.write(`pipe-aggregator: ${err.message}\n`);
      process.exitCode = EXIT_REDIS_UNAVAILABLE;
    } else if (batch) {
      // The drain's reads or writes kept failing for --give-up-after (Redis out of memory, say).
      log.error({ err }, 'drain gave up');
      process.stderr.write(
        `pipe-aggregator: the drain gave up after ${config.giveUpAfter} ms of failures: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = EXIT_REDIS_UNAVAILABLE;
    } else throw err;
  } finally {
    done();
    server?.close();
    redis.disconnect();
  }
  process.exit();
});

program.parseAsync().catch(exitOnStartupError);
