import type {} from '@pipe/testkit/global-setup';
import { connect, PipelineKeys, type RedisClient } from '@pipe/streams';
import {
  type ProcessExit,
  randomPrefix,
  runNode,
  startNode as startTestProcess,
  type TestProcess,
  waitFor,
} from '@pipe/testkit';
import { afterAll, afterEach, inject } from 'vitest';

export { waitFor };

const REAPER = new URL('../dist/main.js', import.meta.url).pathname;
const CONSUMER = new URL('./fixtures/counting-consumer.mjs', import.meta.url).pathname;

export interface AppProcess extends TestProcess {
  /** Output lines that are JSON objects (pino logs, consumer events). */
  events: () => Record<string, unknown>[];
}

const started: TestProcess[] = [];

/** Any node script as a process of the test (killed after the test). */
export function startNode(script: string, args: string[], env: NodeJS.ProcessEnv): AppProcess {
  const run = startTestProcess(script, args, { env });
  started.push(run);
  const events = () =>
    run
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...run, events };
}

/** Kills every process a test started and left running (by pid). */
afterEach(() => {
  for (const run of started.splice(0)) run.kill('SIGKILL');
});

/** A client on the run's shared server and a fresh key prefix per test. */
export function sharedRedis(): {
  redis: RedisClient;
  url: string;
  fresh: () => { keys: PipelineKeys; prefix: string; flags: string[] };
} {
  const url = inject('redisUrl');
  const redis = connect({ url });
  afterAll(() => redis.disconnect());
  return {
    redis,
    url,
    fresh: () => {
      const prefix = randomPrefix('reaper');
      return { keys: new PipelineKeys(prefix), prefix, flags: ['--redis-url', url, '--prefix', prefix] };
    },
  };
}

/** `pipe-reaper <args>` as a long-running process. */
export function startReaper(args: string[], env: NodeJS.ProcessEnv = {}): AppProcess {
  return startNode(REAPER, args, { LOG_LEVEL: 'info', ...env });
}

/** `pipe-reaper <args>` to completion. */
export function runReaper(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessExit> {
  return runNode(REAPER, args, { env: { LOG_LEVEL: 'warn', ...env } });
}

export interface ConsumerOptions {
  url: string;
  prefix: string;
  resultKey: string;
  consumer?: string;
  group?: string;
  stall?: boolean;
  crashOn?: string;
  count?: number;
}

/** The counting consumer fixture (ConsumerLoop from @pipe/streams) as a real process. */
export function startConsumer(o: ConsumerOptions): AppProcess {
  return startNode(CONSUMER, [], {
    REDIS_URL: o.url,
    PREFIX: o.prefix,
    RESULT_KEY: o.resultKey,
    GROUP: o.group ?? 'counters',
    ...(o.consumer ? { CONSUMER: o.consumer } : {}),
    ...(o.stall ? { STALL: '1' } : {}),
    ...(o.crashOn ? { CRASH_ON: o.crashOn } : {}),
    COUNT: String(o.count ?? 100),
  });
}

/** Readings with known temperatures, pipelined into one partition; returns their IDs and temperatures. */
export async function addReadings(
  redis: RedisClient,
  partition: string,
  count: number,
  extra: (i: number) => string[] = () => [],
): Promise<{ ids: string[]; temps: number[] }> {
  const pipeline = redis.pipeline();
  const temps: number[] = [];
  for (let i = 0; i < count; i++) {
    const temp = 50 + (i % 37) + (i % 7) / 4;
    temps.push(temp);
    pipeline.xadd(
      partition,
      '*',
      'device',
      `sensor-${i % 5}`,
      'ts',
      String(Date.now()),
      'temp_f',
      String(temp),
      ...extra(i),
    );
  }
  const results = (await pipeline.exec()) ?? [];
  return { ids: results.map(([, id]) => id as string), temps };
}

/** XINFO CONSUMERS as name → pending. */
export async function pendingByConsumer(
  redis: RedisClient,
  stream: string,
  group: string,
): Promise<Record<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
  const out: Record<string, number> = {};
  for (const row of rows) out[String(row[1])] = Number(row[3]);
  return out;
}

/** A Prometheus sample of a process's /metrics (the first line that starts with `name`). */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').pop());
}
