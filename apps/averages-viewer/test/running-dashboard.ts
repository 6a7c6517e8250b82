import { once } from 'node:events';
import { connect, type Logger, PipelineKeys, type RedisClient } from '@pipe/streams';
import { type DashboardServerOptions, DashboardServer } from '../src/server.js';
import { DashboardClient } from './dashboard-client.js';
import { type LogLine, recordingLogger } from './recording-logger.js';

export type DashboardSettings = Partial<Omit<DashboardServerOptions, 'redis' | 'keys' | 'logger'>>;

/**
 * A DashboardServer built in the test process, as `pipe-viewer serve` builds it: its own client of
 * `redisUrl`, listening on a free port of 127.0.0.1, every log line kept.
 */
export class RunningDashboard extends DashboardClient {
  private constructor(
    readonly server: DashboardServer,
    readonly redis: RedisClient,
    readonly logs: LogLine[],
  ) {
    super(server.url);
  }

  static async start(
    redisUrl: string,
    prefix: string,
    settings: DashboardSettings = {},
  ): Promise<RunningDashboard> {
    const redis = connect({ url: redisUrl });
    // Connected first, so that a test's first page sees Redis up: a server started on a client still
    // connecting says "not connected yet" until it is, which would read as an outage under a busy CPU.
    if (redis.status !== 'ready') await once(redis, 'ready');
    const logger: Logger & { lines: LogLine[] } = recordingLogger();
    const server = new DashboardServer({
      redis,
      keys: new PipelineKeys(prefix),
      port: 0,
      host: '127.0.0.1',
      logger,
      ...settings,
    });
    try {
      await server.start();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new RunningDashboard(server, redis, logger.lines);
  }

  get port(): string {
    return new URL(this.base).port;
  }

  /** As `serve` stops on SIGTERM: the server (event streams, feed), then the client. */
  async stop(): Promise<void> {
    await this.server.stop();
    this.redis.disconnect();
  }
}
