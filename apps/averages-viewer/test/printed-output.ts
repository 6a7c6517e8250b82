import { sleep } from '@pipe/testkit';

export interface PrintedLine {
  line: string;
  /** When it was written: what latency assertions compare with the XADD. */
  at: number;
}

/** What a viewer wrote to stdout (averages) and stderr (notices), line by line, as a process or in-process. */
export abstract class PrintedOutput {
  readonly stdout: PrintedLine[] = [];
  readonly stderr: PrintedLine[] = [];

  /** Nothing more will be written (the process exited): waiting for a line can stop. */
  protected abstract get ended(): boolean;

  lines(which: 'stdout' | 'stderr'): string[] {
    return this[which].map((l) => l.line);
  }

  /** The first line (from index `from` on) that matches, failing after `timeoutMs` or once output ended. */
  async waitForLine(
    which: 'stdout' | 'stderr',
    match: (line: string) => boolean,
    { from = 0, timeoutMs = 10_000 } = {},
  ): Promise<PrintedLine & { index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this[which];
      for (let index = from; index < lines.length; index++) {
        if (match(lines[index]!.line)) return { ...lines[index]!, index };
      }
      if (Date.now() > deadline || this.ended) {
        const shown = `stdout:\n${this.lines('stdout').join('\n')}\nstderr:\n${this.lines('stderr').join('\n')}`;
        throw new Error(`no matching ${which} line within ${timeoutMs} ms; ${shown}`);
      }
      await sleep(5);
    }
  }
}
