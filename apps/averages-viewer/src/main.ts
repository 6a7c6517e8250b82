#!/usr/bin/env node
import {
  createLogger,
  createRegistry,
  exitOnStartupError,
  openRedis,
  runService,
  startMetricsServer,
  stopOnSignals,
} from '@pipe/service';
import { Command } from 'commander';
import { serveConfig, tailConfig } from './config.js';
import { DashboardServer } from './server.js';
import { tailSeries } from './series.js';
import { AveragesTail } from './tail.js';

const program = new Command('pipe-viewer')
  .description('Shows the hourly averages of the pipe pipeline: a terminal tail and a live web dashboard.')
  .exitOverride();

tailConfig
  .addTo(program.command('tail'))
  .description(
    "print hourly averages (or a device's, or another size's windows: --device, --resolution) after this viewer's last shown one, optionally following new ones",
  )
  .action(async (flags) => {
    const config = tailConfig.read(flags);
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
      series: tailSeries(keys, config.device, config.resolution),
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

serveConfig
  .addTo(program.command('serve'))
  .description('serve the live dashboard, its JSON API and server-sent events')
  .action(async (flags) => {
    const config = serveConfig.read(flags);
    await runService(config, {
      service: 'averages-viewer',
      program: program.name(),
      connectionName: 'viewer-serve',
      // The dashboard reports an outage once per change (ConnectionHealth), not per reconnect attempt.
      logConnectionErrors: false,
      create: ({ redis, keys, log }) => {
        const server = new DashboardServer({
          redis,
          keys,
          port: config.port,
          host: config.host,
          allowedHosts: config.allowedHosts,
          logger: log,
        });
        // The dashboard runs from start() until stop(); runService waits for the stop.
        let stopped: () => void = () => {};
        const untilStopped = new Promise<void>((resolve) => {
          stopped = resolve;
        });
        return {
          get isRunning() {
            return server.isRunning;
          },
          run: async () => {
            await server.start();
            await untilStopped;
          },
          stop: async () => {
            await server.stop();
            stopped();
          },
        };
      },
    });
  });

program.parseAsync().catch(exitOnStartupError);
