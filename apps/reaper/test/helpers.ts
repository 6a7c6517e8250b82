import { type AppProcess, startReaper as startReaperProcess, withEvents } from '@pipe/fixtures';
import type { RedisClient } from '@pipe/streams';
import { startNode as startTestProcess, type TestProcess } from '@pipe/testkit';
import { afterEach } from 'vitest';

const CONSUMER = new URL('./fixtures/counting-consumer.mjs', import.meta.url).pathname;

const started: TestProcess[] = [];

/** Kills every process a test started and left running (by pid). */
afterEach(() => {
  for (const run of started.splice(0)) run.kill('SIGKILL');
});

function killedAfterTheTest(run: AppProcess): AppProcess {
  started.push(run);
  return run;
}

/** Any node script as a process of the test (killed after the test). */
export function startNode(script: string, args: string[], env: NodeJS.ProcessEnv): AppProcess {
  return killedAfterTheTest(withEvents(startTestProcess(script, args, { env })));
}

/** `pipe-reaper <args>` as a long-running process (killed after the test). */
export function startReaper(args: string[], env: NodeJS.ProcessEnv = {}): AppProcess {
  return killedAfterTheTest(startReaperProcess(args, env));
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
