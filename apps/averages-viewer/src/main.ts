#!/usr/bin/env node
import {
  configFrom,
  createLogger,
  createRegistry,
  exitOnStartupError,
  openRedis,
  startMetricsServer,
  stopOnSignals,
  withConnectionFlags,
  withGiveUpFlag,
} from '@pipe/service';
import { Command } from 'commander';
import { SERVE_ENV, serveSchema, TAIL_ENV, tailSchema } from './config.js';
import { DashboardServer } from './server.js';
import { AveragesTail } from './tail.js';

const program = new Command('pipe-viewer')
  .description('Shows the hourly averages of the pipe pipeline: a terminal tail and a live web dashboard.')
  .exitOverride();

withConnectionFlags(
  withGiveUpFlag(program.command('tail'), 'without --follow: ')
    .description("print hourly averages after this viewer's last shown one, optionally following new ones")
    .option('--last <n>', 'start with the newest N averages instead of the saved position')
    .option(
      '--from <time>',
      'start with the hours from this ISO 8601 time (UTC unless a zone is given) or epoch ms',
    )
    .option('--follow', 'keep printing new averages as they are written')
    .option('--json', 'print one JSON object per line (full precision) instead of sentences')
    .option(
      '--name <name>',
      'viewer name whose position is kept in Redis [env VIEWER_NAME] (default "default")',
    ),
).action(async (flags) => {
  const config = configFrom(tailSchema, flags, TAIL_ENV);
  // Stdout carries the averages; logs and notices go to stderr.
  const log = createLogger('averages-viewer', config.logLevel, { toStderr: true });
  // Following keeps retrying through outages; a one-shot tail exits 3 when Redis stays away.
  const batch = config.follow ? undefined : { program: program.name(), giveUpAfterMs: config.giveUpAfter };
  const {
    redis,
    keys,
    done: stopWatchingRedis,
  } = openRedis(config, `viewer-tail:${config.name}`, batch, log);
  const tail = new AveragesTail({
    redis,
    keys,
    name: config.name,
    last: config.last,
    fromMs: config.from,
    follow: config.follow,
    json: config.json,
    write: (line) => process.stdout.write(`${line}\n`),
    notice: (line) => process.stderr.write(`${line}\n`),
    logger: log,
  });
  // Started before anything awaits, so the client's first connection error finds its listener.
  const done = tail.run();
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          config.metricsPort,
          createRegistry('averages-viewer'),
          { redis, isRunning: () => tail.isRunning },
          config.metricsHost,
        );
  const stop = async () => {
    await tail.stop();
    metrics?.close();
    stopWatchingRedis();
    redis.disconnect();
  };
  stopOnSignals({ stop }, log);
  try {
    await done;
  } catch (err) {
    process.stderr.write(`tail failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
  // No process.exit(): it could cut off averages still buffered for a piped stdout.
  await stop();
});

withConnectionFlags(
  program
    .command('serve')
    .description('serve the live dashboard, its JSON API and server-sent events')
    .option('--port <port>', 'HTTP port [env VIEWER_PORT] (default 8080)')
    .option('--host <host>', 'address to listen on [env VIEWER_HOST] (default 127.0.0.1)')
    .option(
      '--allowed-hosts <list>',
      'Host header values to answer, host or host:port,... (default: the --host address, localhost, 127.0.0.1 and [::1] with --port) [env VIEWER_ALLOWED_HOSTS]',
    ),
).action(async (flags) => {
  const config = configFrom(serveSchema, flags, SERVE_ENV);
  const log = createLogger('averages-viewer', config.logLevel);
  const { redis, keys } = openRedis(config, 'viewer-serve', undefined, log);
  const server = new DashboardServer({
    redis,
    keys,
    port: config.port,
    host: config.host,
    allowedHosts: config.allowedHosts,
    logger: log,
  });
  stopOnSignals(
    {
      stop: async () => {
        await server.stop();
        redis.disconnect();
      },
    },
    log,
  );
  await server.start();
  if (config.metricsPort !== undefined) {
    const registry = createRegistry('averages-viewer');
    await startMetricsServer(
      config.metricsPort,
      registry,
      { redis, isRunning: () => server.isRunning },
      config.metricsHost,
    );
  }
});

program.parseAsync().catch(exitOnStartupError);
