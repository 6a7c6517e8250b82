import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from '@pipe/testkit';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Output of a viewer process, collected line by line with the time each line arrived. */
export class ViewerProcess {
  readonly stdout: { line: string; at: number }[] = [];
  readonly stderr: { line: string; at: number }[] = [];
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    collect(child.stdout!, this.stdout);
    collect(child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts `node dist/main.js <args>` (build the app first). */
  static start(args: string[], env: NodeJS.ProcessEnv = {}): ViewerProcess {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ViewerProcess(child);
  }

  /** Runs a command to its end. */
  static async run(args: string[], env: NodeJS.ProcessEnv = {}) {
    const viewer = ViewerProcess.start(args, env);
    const code = await viewer.exited;
    return { code, stdout: viewer.lines('stdout'), stderr: viewer.lines('stderr') };
  }

  lines(which: 'stdout' | 'stderr'): string[] {
    return this[which].map((l) => l.line);
  }

  /** Resolves with the first line (from index `from` on) that matches, failing after `timeoutMs`. */
  async waitForLine(
    which: 'stdout' | 'stderr',
    match: (line: string) => boolean,
    { from = 0, timeoutMs = 10_000 } = {},
  ): Promise<{ line: string; at: number; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this[which];
      for (let index = from; index < lines.length; index++) {
        if (match(lines[index]!.line)) return { ...lines[index]!, index };
      }
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(
          `no matching ${which} line within ${timeoutMs} ms; stdout:\n${this.lines('stdout').join('\n')}\nstderr:\n${this.lines('stderr').join('\n')}`,
        );
      }
      await sleep(5);
    }
  }

  /** SIGTERM, as an operator stops it; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

function collect(stream: NodeJS.ReadableStream, into: { line: string; at: number }[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const at = Date.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) into.push({ line, at });
  });
}
