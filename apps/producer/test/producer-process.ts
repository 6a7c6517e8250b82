import type {} from '@pipe/testkit/global-setup';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PipelineKeys, type RedisClient } from '@pipe/streams';

export const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface ProducerRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ProducerProcess {
  /** Settles when the process exits. */
  exited: Promise<ProducerRun>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `node dist/main.js <args>` as a real process; `input` is written to its stdin. */
export function startProducer(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): ProducerProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  const exited = new Promise<ProducerRun>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

export function runProducer(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return startProducer(args, options).exited;
}

/** The `--json` summary line of a run. */
export function summaryOf(run: ProducerRun): Record<string, number | string> {
  const line = run.stdout
    .trim()
    .split('\n')
    .findLast((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary in stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return JSON.parse(line);
}

/** Every entry of every partition under a prefix, as {key, id, fields}. */
export async function partitionEntries(redis: RedisClient, prefix: string) {
  const keys = new PipelineKeys(prefix);
  const partitionKeys = (await redis.keys(`${prefix}:*`)).filter((k) => keys.isPartitionKey(k)).sort();
  const entries: { key: string; id: string; fields: Record<string, string> }[] = [];
  for (const key of partitionKeys) {
    for (const [id, list] of await redis.xrange(key, '-', '+')) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
      entries.push({ key, id, fields });
    }
  }
  return entries;
}

export const DAY_MS = 86_400_000;

/** UTC midnight of the day before today: inside the default 2-day retention, in a whole past day. */
export function yesterdayUtc(): number {
  return Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
}

export function ndjson(records: object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
