import type { Logger, PipelineKeys, RedisClient } from '@pipe/streams';
import { Registry } from 'prom-client';
import { Alerter, type AlerterSettings } from '../src/alerter.js';
import { AlerterMetrics } from '../src/metrics.js';
import { parseRules } from '../src/rules.js';

/** One transition as the alerts stream holds it (without its entry ID). */
export type Transition = Record<'rule' | 'device' | 'state' | 'since' | 'at' | 'value', string>;

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Settings of `pipe-alerter run --drain` with short waits, for rules given as YAML. */
export function drainSettings(rulesYaml: string, overrides: Partial<AlerterSettings> = {}): AlerterSettings {
  return {
    rules: parseRules(rulesYaml),
    group: 'alerter',
    consumer: 'alerter',
    drain: true,
    count: 100,
    blockMs: 50,
    leaseTtlMs: 2000,
    holder: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    silenceCheckMs: 100,
    giveUpAfter: 10_000,
    ...overrides,
  };
}

/** An alerter core on the test server, with its metrics. */
export function alerterInTest(
  redis: RedisClient,
  keys: PipelineKeys,
  settings: AlerterSettings,
): { alerter: Alerter; metrics: AlerterMetrics; registry: Registry } {
  const registry = new Registry();
  const metrics = new AlerterMetrics(registry);
  return { alerter: new Alerter(settings, { redis, keys, log: quiet, metrics }), metrics, registry };
}

/** Drains everything present through an in-process alerter. */
export async function drainOnce(
  redis: RedisClient,
  keys: PipelineKeys,
  rulesYaml: string,
  overrides: Partial<AlerterSettings> = {},
): Promise<Alerter> {
  const { alerter } = alerterInTest(redis, keys, drainSettings(rulesYaml, overrides));
  await alerter.run();
  return alerter;
}

/** Every transition in the alerts stream, oldest first. */
export async function transitions(redis: RedisClient, keys: PipelineKeys): Promise<Transition[]> {
  const entries = await redis.xrange(keys.alerts, '-', '+');
  return entries.map(([, fields]) => {
    const t: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) t[fields[i]!] = fields[i + 1]!;
    return t as Transition;
  });
}
