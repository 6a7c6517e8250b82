import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A real node process started by a test: its output so far, its exit, and kill by pid. */
export interface TestProcess {
  child: ChildProcess;
  exited: Promise<ProcessExit>;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Written to stdin, which is then closed; stdin is ignored without it. An async iterable is streamed
   * chunk by chunk, waiting for the child to take each one (input larger than memory, paced input).
   */
  input?: string | AsyncIterable<string>;
}

/** Starts `node <script> <args>` (an app's dist/main.js, a fixture) as a real child process. */
export function startNode(
  script: string,
  args: string[] = [],
  { env = {}, input }: StartOptions = {},
): TestProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
    output += chunk;
  });
  if (input !== undefined) {
    child.stdin?.on('error', () => {});
    if (typeof input === 'string') child.stdin?.end(input);
    // A failing source ends the input early; the child's output then shows what it did get.
    else streamTo(child, input).catch(() => child.stdin?.destroy());
  }
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Writes each chunk once the child has room for it (backpressure); stops when the child is gone. */
async function streamTo(child: ChildProcess, chunks: AsyncIterable<string>): Promise<void> {
  const stdin = child.stdin!;
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  for await (const chunk of chunks) {
    if (stdin.destroyed) return;
    if (!stdin.write(chunk)) await Promise.race([once(stdin, 'drain'), gone]);
  }
  stdin.end();
}

/** Runs `node <script> <args>` to its end; SIGKILLs it after `timeoutMs`. */
export async function runNode(
  script: string,
  args: string[] = [],
  options: StartOptions & { timeoutMs?: number } = {},
): Promise<ProcessExit> {
  const run = startNode(script, args, options);
  const timer = setTimeout(() => run.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  try {
    return await run.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The process's exit, or a failure after `timeoutMs` that says what it was doing (the end of its
 * output) rather than a bare test timeout; the process is left running for the test to kill.
 */
export async function exitWithin(run: TestProcess, timeoutMs: number, what: string): Promise<ProcessExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} still running after ${timeoutMs} ms:\n${run.output().slice(-4000)}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
