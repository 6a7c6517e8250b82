import type { PipelineKeys, RedisClient } from '@pipe/streams';
import { sleep } from '@pipe/testkit';
import { AveragesTail, type TailOptions } from '../src/tail.js';
import { type LogLine, recordingLogger } from './recording-logger.js';

export interface PrintedLine {
  line: string;
  /** When the tail wrote it: what latency assertions compare with the XADD. */
  at: number;
}

export type TailSettings = Partial<Omit<TailOptions, 'redis' | 'keys' | 'write' | 'notice' | 'logger'>>;

/**
 * An AveragesTail built in the test process, as `pipe-viewer tail` builds it, with what it writes to
 * stdout (averages) and to stderr (notices) kept line by line.
 */
export class RunningTail {
  readonly stdout: PrintedLine[] = [];
  readonly stderr: PrintedLine[] = [];
  readonly logs: LogLine[];
  readonly tail: AveragesTail;
  /** Settles as `run()` does: when the history is shown, or, following, after stop(). */
  readonly done: Promise<void>;

  private constructor(redis: RedisClient, keys: PipelineKeys, settings: TailSettings) {
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

  lines(which: 'stdout' | 'stderr'): string[] {
    return this[which].map((l) => l.line);
  }

  /** The first line (from index `from` on) that matches, failing after `timeoutMs`. */
  async waitForLine(
    which: 'stdout' | 'stderr',
    match: (line: string) => boolean,
    { from = 0, timeoutMs = 10_000 } = {},
  ): Promise<PrintedLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this[which].slice(from).find((l) => match(l.line));
      if (found) return found;
      if (Date.now() > deadline) {
        const shown = `stdout:\n${this.lines('stdout').join('\n')}\nstderr:\n${this.lines('stderr').join('\n')}`;
        throw new Error(`no matching ${which} line within ${timeoutMs} ms; ${shown}`);
      }
      await sleep(5);
    }
  }

  async stop(): Promise<void> {
    await this.tail.stop();
    await this.done;
  }
}
