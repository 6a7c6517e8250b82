import { type ChildProcess, spawn } from 'node:child_process';

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
  /** Written to stdin, which is then closed; stdin is ignored without it. */
  input?: string;
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
    child.stdin?.end(input);
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
