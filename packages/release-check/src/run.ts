import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/** A command that exited non-zero (or timed out), with what it printed, so a failed step says why. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';

  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly output: string,
  ) {
    super(`${command} exited with ${code}:\n${output.slice(-4000)}`);
  }
}

/** Runs a command to its end and resolves with its output; any non-zero exit rejects. */
export function run(
  command: string,
  args: string[],
  { cwd, env, timeoutMs = 180_000 }: RunOptions,
): Promise<RunResult> {
  const started = Date.now();
  const line = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr, ms: Date.now() - started });
      else reject(new CommandFailedError(line, code ?? (signal ? -1 : null), `${stdout}\n${stderr}`));
    });
  });
}

/**
 * The environment of this process without the npm_* variables a package manager put there (its
 * registry, user config, lifecycle): each step says which registry and user config it means.
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}
