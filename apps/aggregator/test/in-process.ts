import { connect, type PipelineKeys, type RedisClient, type StreamEntry, WindowLayout } from '@pipe/streams';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, inject } from 'vitest';
import { accumulateCall } from '../src/accumulate-call.js';
import { Aggregator, type AggregatorSettings } from '../src/aggregator.js';
import type { DeviceTotalsCache } from '../src/device-totals-cache.js';
import { AggregatorMetrics } from '../src/metrics.js';
import { defineAggregatorScripts } from '../src/scripts.js';
import { AggregatorStateKeys } from '../src/state-keys.js';

/**
 * What `pipe-aggregator run` runs with when given no flag (config.ts's defaults), with a fixed consumer
 * name: a test states only the settings its scenario is about.
 */
export const DEFAULT_SETTINGS: AggregatorSettings = {
  group: 'aggregator',
  takeOver: false,
  consumer: 'in-process',
  grace: 5_000,
  idleClose: 60_000,
  maxAhead: 0,
  keepHours: 120,
  drain: false,
  count: 500,
  blockMs: 1_000,
  pendingCheck: 2_000,
  minIdle: 60_000,
  adoptAfter: 30_000,
  maxDeliveries: 5,
  giveUpAfter: 10_000,
};

/** One pino line as the aggregator logged it (`msg`, `level`, `time` and the object's fields). */
export type LogLine = Record<string, unknown> & { msg: string; level: number; time: number };

export interface InProcessAggregator {
  aggregator: Aggregator;
  /** run()'s outcome: resolves when the run ends (drained, or stopped), rejects with why it ended early. */
  ended: Promise<void>;
  /** Every line logged so far (level info and up), oldest first. */
  logs: LogLine[];
  /** The lines logged with this message. */
  logged(msg: string): LogLine[];
  /** The instance's Prometheus registry, as main.ts would serve it on /metrics. */
  registry: Registry;
  /** stop() and wait for run() to end, whatever it ended with. */
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** Another server than the run's shared one (a test that stops or fills its server). */
  url?: string;
}

/**
 * Builds `Aggregator` cores in this process, each on its own connection to the run's shared
 * redis-server (as main.ts gives each process one), logging into memory. Every core a test started is
 * stopped after it.
 */
export function inProcessAggregators() {
  const started: InProcessAggregator[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.stop()));
  });

  function start(
    keys: PipelineKeys,
    settings: Partial<AggregatorSettings> = {},
    { url = inject('redisUrl') }: InProcessOptions = {},
  ): InProcessAggregator {
    const redis = connect({ url });
    // ioredis reports a lost connection as an 'error' event; the core's own retries are what is tested.
    redis.on('error', () => {});
    const logs: LogLine[] = [];
    const log = pino(
      { level: 'info', base: { service: 'aggregator' } },
      {
        write: (line: string) => logs.push(JSON.parse(line) as LogLine),
      },
    );
    const registry = new Registry();
    const aggregator = new Aggregator(
      { ...DEFAULT_SETTINGS, ...settings },
      { redis, keys, log, metrics: new AggregatorMetrics(registry) },
    );
    const ended = aggregator.run().finally(() => redis.disconnect());
    // A test that never awaits `ended` must not fail the run with an unhandled rejection.
    ended.catch(() => {});
    const run: InProcessAggregator = {
      aggregator,
      ended,
      logs,
      logged: (msg) => logs.filter((l) => l.msg === msg),
      registry,
      stop: async () => {
        await aggregator.stop();
        await ended.catch(() => {});
      },
    };
    started.push(run);
    return run;
  }

  /**
   * Runs a drain (`run --drain`) to its end and returns it; throws what run() threw, or, when it did not
   * end within `withinMs`, an error with its log (a drain that never ends must say what it waited for).
   */
  async function drain(
    keys: PipelineKeys,
    settings: Partial<AggregatorSettings> = {},
    { withinMs = 25_000, ...options }: InProcessOptions & { withinMs?: number } = {},
  ): Promise<InProcessAggregator> {
    const run = start(keys, { ...settings, drain: true }, options);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), withinMs);
    });
    try {
      const outcome = await Promise.race([run.ended.then(() => 'drained' as const), late]);
      if (outcome === 'late') {
        await run.stop();
        throw new Error(`the drain did not end within ${withinMs} ms:\n${logText(run)}`);
      }
    } finally {
      clearTimeout(timer);
    }
    return run;
  }

  return { start, drain };
}

/** The run's log as text, for a failing assertion's message. */
export function logText(run: InProcessAggregator): string {
  return run.logs.map((l) => JSON.stringify(l)).join('\n');
}

/** `pipe_<name>` of the instance's registry: the value main.ts would serve on /metrics. */
export async function metricValue(run: InProcessAggregator, name: string): Promise<number> {
  const metric = await run.registry.getSingleMetric(name)?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

/**
 * One accumulate-batch-n.lua call for `entries` of `partition` as `consumer` (group `aggregator`), for
 * the day's `layout`: counted, already acknowledged, and the call.
 */
export async function countBatch(
  redis: RedisClient,
  keys: PipelineKeys,
  partition: string,
  consumer: string,
  entries: StreamEntry[],
  layout = WindowLayout.parse('1h'),
  deviceTotals?: DeviceTotalsCache,
) {
  const context = {
    keys,
    state: new AggregatorStateKeys(keys),
    group: 'aggregator',
    consumer,
    now: Date.now(),
    stateAfterPartitionMs: 0,
    deviceTotals,
  };
  const call = accumulateCall({ stream: partition, entries }, context, layout);
  const [counted, skipped, , , mergedAt] = await defineAggregatorScripts(redis).accumulateBatch(
    call.keys,
    call.args,
  );
  // The windows whose device totals the script merged itself, by hash key (as the aggregator forgets them).
  const merged = mergedAt.map((g) => call.finestWindows[g - 1]!);
  for (const key of merged) deviceTotals?.forget(key);
  return { counted, skipped, merged, call };
}
