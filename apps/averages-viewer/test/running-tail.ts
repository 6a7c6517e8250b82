import { PrintedOutput } from '@pipe/fixtures';
import type { PipelineKeys, RedisClient } from '@pipe/streams';
import { AveragesTail, type TailOptions } from '../src/tail.js';
import { type LogLine, recordingLogger } from './recording-logger.js';

export type TailSettings = Partial<Omit<TailOptions, 'redis' | 'keys' | 'write' | 'notice' | 'logger'>>;

/**
 * An AveragesTail built in the test process, as `pipe-viewer tail` builds it, with what it writes to
 * stdout (averages) and to stderr (notices) kept line by line.
 */
export class RunningTail extends PrintedOutput {
  readonly logs: LogLine[];
  readonly tail: AveragesTail;
  /** Settles as `run()` does: when the history is shown, or, following, after stop(). */
  readonly done: Promise<void>;

  private constructor(redis: RedisClient, keys: PipelineKeys, settings: TailSettings) {
    super();
    const logger = recordingLogger();
    this.logs = logger.lines;
    this.tail = new AveragesTail({
      redis,
      keys,
      name: 'default',
      follow: false,
      json: false,
      write: (line) => this.stdout.push({ line, at: Date.now() }),
      notice: (line) => this.stderr.push({ line, at: Date.now() }),
      logger,
      ...settings,
    });
    this.done = this.tail.run();
    this.done.catch(() => {});
  }

  static start(redis: RedisClient, keys: PipelineKeys, settings: TailSettings = {}): RunningTail {
    return new RunningTail(redis, keys, settings);
  }

  /** A one-shot tail to its end: what it printed on each stream. */
  static async run(redis: RedisClient, keys: PipelineKeys, settings: TailSettings = {}) {
    const running = RunningTail.start(redis, keys, settings);
    await running.done;
    return { stdout: running.lines('stdout'), stderr: running.lines('stderr') };
  }

  /** A tail writes until it is stopped: only the timeout ends a wait. */
  protected get ended(): boolean {
    return false;
  }

  async stop(): Promise<void> {
    await this.tail.stop();
    await this.done;
  }
}
