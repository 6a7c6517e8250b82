import type {} from '@pipe/testkit/global-setup';
import { fileURLToPath } from 'node:url';
import { discoverPartitions, PipelineKeys, type RedisClient } from '@pipe/streams';
import { type ProcessExit, type StartOptions, startNode, type TestProcess } from '@pipe/testkit';

export const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export type ProducerRun = ProcessExit;
export type ProducerProcess = TestProcess;

/** Starts `node dist/main.js <args>` as a real process; `input` is written (or streamed) to its stdin. */
export function startProducer(args: string[], options: StartOptions = {}): ProducerProcess {
  return startNode(MAIN, args, { env: { LOG_LEVEL: 'warn', ...options.env }, input: options.input });
}

export function runProducer(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return startProducer(args, options).exited;
}

/** The `--json` summary line of a run (log lines, which carry a pino `level`, may follow it). */
export function summaryOf(run: ProducerRun): Record<string, number | string> {
  const summary = run.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .findLast((o) => !('level' in o));
  if (!summary) throw new Error(`no JSON summary in stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return summary;
}

/** Every entry of every partition under a prefix, as {key, id, fields}. */
export async function partitionEntries(redis: RedisClient, prefix: string) {
  // Every master's partitions on a cluster (KEYS would ask one node).
  const partitionKeys = await discoverPartitions(redis, new PipelineKeys(prefix));
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
