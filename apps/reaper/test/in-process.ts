import type { Logger, PipelineKeys, RedisClient } from '@pipe/streams';
import { Registry } from 'prom-client';
import { afterEach } from 'vitest';
import { ReaperMetrics } from '../src/metrics.js';
import { Reaper, type ReaperOptions } from '../src/reaper.js';
import { type SweepPolicy, Sweeper } from '../src/sweeper.js';

/** One log call of a core: its level, message and fields, as pino would write them. */
export type LogEvent = Record<string, unknown> & { level: keyof Logger; msg?: string };

/** A logger that keeps what the core logs, so a test can read it as it would read pino's JSON lines. */
export function recordingLog(): { log: Logger; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const record =
    (level: keyof Logger) =>
    (obj: object, msg?: string): void => {
      events.push({ ...obj, level, msg });
    };
  return {
    log: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    events,
  };
}

/** The defaults of `pipe-reaper once`, as a plain policy (durations in ms) for a test to override. */
export function sweepPolicy(overrides: Partial<SweepPolicy> = {}): SweepPolicy {
  return {
    minIdleMs: 60_000,
    maxDeliveries: 5,
    consumerTtlMs: 3_600_000,
    liveWithinMs: 15_000,
    ...overrides,
  };
}

/** One sweep, as `pipe-reaper once` does it, with the log it wrote. */
export async function sweepOnce(
  redis: RedisClient,
  keys: PipelineKeys,
  policy: Partial<SweepPolicy> = {},
): Promise<Awaited<ReturnType<Sweeper['sweep']>> & { events: LogEvent[] }> {
  const { log, events } = recordingLog();
  const summary = await new Sweeper({ redis, keys, log }, sweepPolicy(policy)).sweep();
  return { ...summary, events };
}

export interface ReaperInTest {
  reaper: Reaper;
  events: LogEvent[];
  metrics: ReaperMetrics;
  /** A counter's or gauge's current value (the sample /metrics would show). */
  metric: (name: string) => Promise<number>;
  /** The run() promise; resolves once stop() has released the lease. */
  running: Promise<void>;
}

const running: Reaper[] = [];

/** Stops every reaper a test left running, so none sweeps into the next test's keys. */
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

/** A `Reaper` run in this process with its own metrics registry, as `pipe-reaper run` wires it. */
export function runReaperInProcess(
  redis: RedisClient,
  keys: PipelineKeys,
  options: Partial<ReaperOptions> & { holder: string },
): ReaperInTest {
  const { log, events } = recordingLog();
  const registry = new Registry();
  const metrics = new ReaperMetrics(registry);
  const reaper = new Reaper(
    { ...sweepPolicy(), intervalMs: 5_000, leaseTtlMs: 15_000, ...options },
    { redis, keys, log, metrics },
  );
  running.push(reaper);
  const metric = async (name: string) => {
    const { values } = await registry.getSingleMetric(name)!.get();
    return values[0]?.value ?? 0;
  };
  return { reaper, events, metrics, metric, running: reaper.run() };
}

/**
 * Registers a consumer and keeps it active, as a ConsumerLoop does by re-reading its own PEL (ID 0)
 * every pendingCheckMs; returns a stop function. (On Redis 7.0 an empty `>` read does not count.)
 */
export async function keepConsumerAlive(
  redis: RedisClient,
  partition: string,
  group: string,
  consumer: string,
): Promise<() => void> {
  await redis.xgroup('CREATECONSUMER', partition, group, consumer);
  const reReadPel = () => redis.xreadgroup('GROUP', group, consumer, 'COUNT', 1, 'STREAMS', partition, '0');
  await reReadPel();
  const timer = setInterval(() => void reReadPel().catch(() => {}), 100);
  return () => clearInterval(timer);
}
