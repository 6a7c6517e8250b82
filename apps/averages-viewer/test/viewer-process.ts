import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type PrintedLine, PrintedOutput } from './printed-output.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Output of a viewer process, collected line by line with the time each line arrived. */
export class ViewerProcess extends PrintedOutput {
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    super();
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

  protected get ended(): boolean {
    return this.child.exitCode !== null;
  }

  /** SIGTERM, as an operator stops it; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

function collect(stream: NodeJS.ReadableStream, into: PrintedLine[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const at = Date.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) into.push({ line, at });
  });
}
