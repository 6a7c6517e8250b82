#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type ConnectionConfig,
  configFrom,
  createLogger,
  createRegistry,
  durabilityOf,
  registerPipelineGauges,
  exitOnStartupError,
  openRedis,
  startMetricsServer,
  stopOnSignals,
  withConnectionFlags,
  withGiveUpFlag,
} from '@pipe/service';
import { type PipelineKeys, pipelineStatus, type RedisClient, redactUrl } from '@pipe/streams';
import { Command } from 'commander';
import {
  INSPECT_ENV,
  inspectSchema,
  ONCE_ENV,
  onceSchema,
  RUN_ENV,
  runSchema,
  type SweepConfig,
} from './config.js';
import {
  allDeadLetters,
  letterJson,
  purgeDeadLetters,
  renderDeadLetters,
  replayLetters,
} from './dead-letter-commands.js';
import { ReaperMetrics } from './metrics.js';
import { Reaper } from './reaper.js';
import { renderStatus } from './status.js';
import { type SweepPolicy, Sweeper } from './sweeper.js';

const program = new Command('pipe-reaper')
  .description(
    'Recovers pending entries of crashed consumers, dead-letters poison entries, keeps consumer groups clean.',
  )
  .showHelpAfterError();

const withSweepFlags = (command: Command) =>
  withConnectionFlags(
    command
      .option(
        '--min-idle <duration>',
        'reclaim entries pending at least this long [env REAPER_MIN_IDLE] (default 60s)',
      )
      .option(
        '--max-deliveries <n>',
        'dead-letter entries delivered this often [env REAPER_MAX_DELIVERIES] (default 5)',
      )
      .option(
        '--consumer-ttl <duration>',
        'delete consumers idle this long with nothing pending [env REAPER_CONSUMER_TTL] (default 1h)',
      )
      .option(
        '--live-within <duration>',
        'a consumer seen within this is live [env REAPER_LIVE_WITHIN] (default 15s)',
      ),
  );

function load<S extends Parameters<typeof configFrom>[0]>(
  schema: S,
  flags: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
) {
  try {
    return configFrom(schema, flags, env);
  } catch (err) {
    exitOnStartupError(err);
  }
}

/**
 * Runs a one-shot command with a connection of its own, closed whatever happens; when Redis stays
 * unreachable for --give-up-after or refuses the credentials, the process exits 3 with one line.
 */
async function withRedis(
  config: ConnectionConfig & { giveUpAfter: number },
  name: string,
  command: (redis: RedisClient, keys: PipelineKeys) => Promise<void>,
): Promise<void> {
  const { redis, keys, done } = openRedis(config, `pipe-reaper:${name}`, {
    program: program.name(),
    giveUpAfterMs: config.giveUpAfter,
  });
  try {
    // A cluster client knows its masters (where partitions are SCANned) only once it is ready; the first
    // command waits for that.
    await redis.ping();
    await command(redis, keys);
  } finally {
    done();
    redis.disconnect();
  }
}

/** The connection flags and --give-up-after of the one-shot commands. */
const withOneShotFlags = (command: Command) => withGiveUpFlag(withConnectionFlags(command));

const policyOf = (config: SweepConfig): SweepPolicy => ({
  minIdleMs: config.minIdle,
  maxDeliveries: config.maxDeliveries,
  consumerTtlMs: config.consumerTtl,
  liveWithinMs: config.liveWithin,
  durability: durabilityOf(config),
});

withSweepFlags(
  program
    .command('run')
    .description('sweep every interval while holding the lease; SIGTERM/SIGINT stop and release it')
    .option('--interval <duration>', 'pause between sweeps [env REAPER_INTERVAL] (default 5s)')
    .option(
      '--lease-ttl <duration>',
      'lease time; a standby takes over within it [env REAPER_LEASE_TTL] (default 15s)',
    ),
).action(async (flags: Record<string, unknown>) => {
  const config = load(runSchema, flags, RUN_ENV);
  const log = createLogger('reaper', config.logLevel);
  const holder = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const { redis, keys } = openRedis(config, `pipe-reaper:${holder}`, undefined, log);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  log.info({ redisUrl: redactUrl(config.redisUrl), prefix: config.prefix }, 'connecting');
  const registry = createRegistry('reaper');
  // The reaper is the service operators watch: it also exports lag, pending and stream sizes.
  registerPipelineGauges(registry, redis, keys);
  const reaper = new Reaper(
    { ...policyOf(config), intervalMs: config.interval, leaseTtlMs: config.leaseTtl, holder },
    { redis, keys, log, metrics: new ReaperMetrics(registry) },
  );
  const server =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          registry,
          { redis, isRunning: () => reaper.isRunning },
          config.metricsHost,
        );
  stopOnSignals(reaper, log);
  try {
    await reaper.run();
  } finally {
    server?.close();
    redis.disconnect();
  }
  process.exit(0);
});

withGiveUpFlag(
  withSweepFlags(
    program
      .command('once')
      .description(
        'one sweep with the same flags, print a summary, exit (1 when a group could not be swept, 3 when Redis is unavailable)',
      )
      .option('--json', 'summary as JSON'),
  ),
).action(async (flags: Record<string, unknown>) => {
  const config = load(onceSchema, flags, ONCE_ENV);
  // Logs on stderr: stdout carries the summary alone.
  const log = createLogger('reaper', config.logLevel, { toStderr: true });
  await withRedis(config, 'once', async (redis, keys) => {
    const summary = await new Sweeper({ redis, keys, log }, policyOf(config)).sweep();
    if (config.json) console.log(JSON.stringify(summary));
    else for (const [name, value] of Object.entries(summary)) console.log(`${name.padEnd(22)}${value}`);
    process.exitCode = summary.failedGroups > 0 ? 1 : 0;
  });
});

withOneShotFlags(
  program
    .command('status')
    .description(
      'partitions, groups, pending entries, lag, side-stream sizes and Redis memory (used, limit, policy, evictions)',
    )
    .option('--json', 'as JSON, for scripts'),
).action(async (flags: Record<string, unknown>) => {
  const config = load(inspectSchema, flags, INSPECT_ENV);
  await withRedis(config, 'status', async (redis, keys) => {
    const report = await pipelineStatus(redis, keys);
    console.log(config.json ? JSON.stringify(report, null, 2) : renderStatus(report));
  });
});

const dlq = program.command('dlq').description('the dead-letter stream');

withOneShotFlags(
  dlq.command('list').description('list dead letters, oldest first').option('--json', 'as JSON'),
).action(async (flags: Record<string, unknown>) => {
  const config = load(inspectSchema, flags, INSPECT_ENV);
  await withRedis(config, 'dlq', async (redis, keys) => {
    const entries = [];
    for await (const entry of allDeadLetters(redis, keys)) entries.push(entry);
    console.log(config.json ? JSON.stringify(entries.map(letterJson), null, 2) : renderDeadLetters(entries));
  });
});

withOneShotFlags(
  dlq
    .command('replay')
    .description(
      'put letters back into their partitions and remove them from the dead-letter stream, atomically',
    )
    .argument('[letterIds...]', 'dead-letter IDs (as dlq list shows them)')
    .option('--all', 'every letter'),
).action(async (letterIds: string[], flags: Record<string, unknown>) => {
  if (!flags.all && letterIds.length === 0) program.error('dlq replay: give letter IDs or --all');
  const config = load(inspectSchema, flags, INSPECT_ENV);
  await withRedis(config, 'dlq', async (redis, keys) => {
    const report = await replayLetters(redis, keys, flags.all ? 'all' : letterIds, durabilityOf(config));
    for (const r of report.replayed) console.log(`replayed ${r.letterId} -> ${r.stream} ${r.id}`);
    for (const f of report.failed) console.error(`not replayed ${f.letterId}: ${JSON.stringify(f.outcome)}`);
    process.exitCode = report.failed.length > 0 ? 1 : 0;
  });
});

withOneShotFlags(
  dlq
    .command('purge')
    .description('delete the dead-letter stream')
    .option('--yes', 'really delete every letter'),
).action(async (flags: Record<string, unknown>) => {
  if (!flags.yes) program.error('dlq purge deletes every dead letter: add --yes');
  const config = load(inspectSchema, flags, INSPECT_ENV);
  await withRedis(config, 'dlq', async (redis, keys) => {
    console.log(`purged ${await purgeDeadLetters(redis, keys)} dead letters`);
  });
});

program.parseAsync().catch(exitOnStartupError);
