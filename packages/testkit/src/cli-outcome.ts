import { type ProcessExit, runNode, type StartOptions } from './node-process.js';

/** How a command line ended, and after how long. */
export interface TimedExit extends ProcessExit {
  ms: number;
}

/** Runs `node <script> <args>` to its end, timing it; SIGKILLs it after `timeoutMs` (default 60 s). */
export async function runTimed(
  script: string,
  args: string[],
  options: StartOptions & { timeoutMs?: number } = {},
): Promise<TimedExit> {
  const started = performance.now();
  const exit = await runNode(script, args, { timeoutMs: 60_000, ...options });
  return { ...exit, ms: Math.round(performance.now() - started) };
}

export interface GiveUpExpectation {
  /** The one line stderr must hold. */
  line: RegExp;
  /** The run must end sooner. */
  withinMs: number;
  /** Must appear nowhere in the output (a password). */
  secret?: string;
  /** Default 3, "Redis unavailable". */
  code?: number;
}

/**
 * What is wrong with how a batch command gave up on Redis (empty when nothing is): the exit code, stderr
 * exactly one line naming the cause, no ioredis "Unhandled error event", no password, in time.
 */
export function giveUpProblems(exit: TimedExit, expected: GiveUpExpectation): string[] {
  const problems: string[] = [];
  const code = expected.code ?? 3;
  if (exit.code !== code) problems.push(`exit code ${exit.code} (signal ${exit.signal}), expected ${code}`);
  const lines = exit.stderr.replace(/\n$/, '').split('\n');
  if (lines.length !== 1 || !expected.line.test(lines[0]!))
    problems.push(`stderr is not one line matching ${expected.line}: ${JSON.stringify(exit.stderr)}`);
  const output = exit.stdout + exit.stderr;
  if (output.includes('Unhandled error event')) problems.push('ioredis printed "Unhandled error event"');
  if (expected.secret && output.includes(expected.secret)) problems.push('the password is in the output');
  if (exit.ms >= expected.withinMs) problems.push(`took ${exit.ms} ms, expected under ${expected.withinMs}`);
  return problems;
}
