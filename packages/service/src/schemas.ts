import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_PREFIX, type Durability, PREFIX_PATTERN, PREFIX_RULE } from '@pipe/streams';
import { parseDuration } from './config.js';
import { DEFAULT_MEMORY_READY_RATIO } from './memory-watch.js';
import { setting, settingsSchema } from './settings.js';

/** Why `path` cannot be read as a file (a TLS certificate or key), or undefined. */
function whyNotReadableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `not a file: ${path}`;
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** A TLS file flag: checked at start, so a typo is a configuration error, not a stack trace later. */
const tlsFile = () =>
  z
    .string()
    .optional()
    .superRefine((path, ctx) => {
      const why = path ? whyNotReadableFile(path) : undefined;
      if (why) ctx.addIssue({ code: 'custom', message: why });
    });

/**
 * What the connection fields say together (a field's own schema cannot see the others): TLS files
 * with a plain redis:// URL would be used anyway and hide the mistake; a certificate needs its key.
 */
export function connectionProblems(raw: {
  redisUrl?: unknown;
  clusterNodes?: unknown;
  tlsCa?: unknown;
  tlsCert?: unknown;
  tlsKey?: unknown;
}): string[] {
  const problems: string[] = [];
  const tls = Boolean(raw.tlsCa || raw.tlsCert || raw.tlsKey);
  const url = typeof raw.redisUrl === 'string' ? raw.redisUrl : 'redis://';
  if (tls && !raw.clusterNodes && url.startsWith('redis://'))
    problems.push('redisUrl: TLS files are given but the URL is redis:// (plain); use rediss://');
  if (Boolean(raw.tlsCert) !== Boolean(raw.tlsKey))
    problems.push('tlsCert: a client certificate and its key go together (--tls-cert with --tls-key)');
  return problems;
}

/** A duration flag (`1s`, `500ms`, `2d`) as ms. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: `not a duration (try 500ms, 5s, 1h, 2d): ${value}` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A duration setting with a default, in one line where it is declared: `--<name> <duration>`, its env
 * variable (none for a tuning knob that only tests and benchmarks set) and its help.
 */
export const durationSetting = (name: string, env: string | undefined, help: string, fallback: string) =>
  setting({ flag: `${name} <duration>`, env, help, schema: duration().prefault(fallback) });

/**
 * A switch that is off unless given: the flag (true) or its env variable, which must say 1/true or 0/false
 * (so that `X=0` turns it off rather than on, as any non-empty string would).
 */
export const onOff = () =>
  z
    .union([z.boolean(), z.enum(['1', 'true', '0', 'false'])], { error: 'expected 1, true, 0 or false' })
    .transform((v) => v === true || v === '1' || v === 'true')
    .default(false);

export const positiveInt = () => z.coerce.number().int().positive();

/** What a consumer group, consumer or viewer name may hold, in Redis, in a key and in a log line. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** A name flag (consumer group, consumer, viewer): NAME_PATTERN, with at most `maxLength` characters. */
export const pipeName = (maxLength?: number) => {
  const name = z.string().regex(NAME_PATTERN, 'letters, digits, _ . : - only');
  return maxLength === undefined ? name : name.max(maxLength, `at most ${maxLength} characters`);
};

/**
 * `--give-up-after` of the batch commands (drain, once, status, a one-shot tail): how long Redis may
 * stay unreachable before the command exits 3. Short, because a script or cron job is waiting; the
 * long-running services keep retrying instead. `when` starts the help, e.g. `with --drain: `.
 */
export const giveUpAfter = (when = '') =>
  setting({
    flag: '--give-up-after <duration>',
    env: 'GIVE_UP_AFTER',
    help: `${when}exit 3 when Redis stays unreachable this long, at once when it refuses the credentials or TLS`,
    schema: duration()
      .refine((ms) => ms > 0, 'must be more than 0')
      .prefault('10s'),
  });

/**
 * The claim policy the reaper sweeps with and a drain adopts with: the same rules, so one declaration
 * of their flags and defaults. `--min-idle`: pending entries idle this long may be claimed;
 * `--max-deliveries`: entries delivered this often go to the dead-letter stream. `app` starts the env
 * names (REAPER_MIN_IDLE); `minIdle` narrows its schema (a drain's must be more than 0).
 */
export const claimPolicySettings = (
  app: string,
  help: { minIdle: string; maxDeliveries: string },
  minIdle: (ms: ReturnType<typeof duration>) => z.ZodType<number> = (ms) => ms,
) => ({
  minIdle: setting({
    flag: '--min-idle <duration>',
    env: `${app}_MIN_IDLE`,
    help: help.minIdle,
    schema: minIdle(duration()).prefault('60s'),
  }),
  maxDeliveries: setting({
    flag: '--max-deliveries <n>',
    env: `${app}_MAX_DELIVERIES`,
    help: help.maxDeliveries,
    schema: positiveInt().default(5),
  }),
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `--log-level`; batch and interactive commands default to `warn`, their output being the point. */
export const logLevel = (level: (typeof LOG_LEVELS)[number] = 'info') =>
  setting({
    flag: '--log-level <level>',
    env: 'LOG_LEVEL',
    help: LOG_LEVELS.join('|'),
    schema: z.enum(LOG_LEVELS).default(level),
  });

/** Where Redis is and what the keys are called: the settings every command of every service has. */
export const CONNECTION_SETTINGS = {
  redisUrl: setting({
    flag: '--redis-url <url>',
    env: 'REDIS_URL',
    help: 'Redis URL (redis:// or rediss://)',
    schema: z
      .string()
      .default('redis://127.0.0.1:6379')
      .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://'),
  }),
  clusterNodes: setting({
    flag: '--cluster-nodes <list>',
    env: 'REDIS_CLUSTER_NODES',
    help: 'Redis Cluster seeds host:port,... (selects cluster mode)',
    schema: z
      .string()
      .optional()
      .transform((s) =>
        s
          ? s
              .split(',')
              .map((n) => n.trim())
              .filter(Boolean)
          : undefined,
      )
      .refine(
        (nodes) => !nodes || nodes.every((n) => /^[^:\s]+:\d{1,5}$/.test(n)),
        'must be host:port,host:port',
      ),
  }),
  prefix: setting({
    flag: '--prefix <prefix>',
    env: 'STREAM_PREFIX',
    help: 'key prefix of the pipeline',
    schema: z.string().regex(PREFIX_PATTERN, PREFIX_RULE).default(DEFAULT_PREFIX),
  }),
  tlsCa: setting({
    flag: '--tls-ca <file>',
    env: 'REDIS_TLS_CA',
    help: 'CA certificate for rediss://',
    schema: tlsFile(),
  }),
  tlsCert: setting({
    flag: '--tls-cert <file>',
    env: 'REDIS_TLS_CERT',
    help: 'client certificate for rediss://',
    schema: tlsFile(),
  }),
  tlsKey: setting({
    flag: '--tls-key <file>',
    env: 'REDIS_TLS_KEY',
    help: 'client key for rediss://',
    schema: tlsFile(),
  }),
  metricsPort: setting({
    flag: '--metrics-port <port>',
    env: 'METRICS_PORT',
    help: 'serve /healthz, /readyz and /metrics on this port',
    schema: z.coerce.number().int().min(0).max(65535).optional(),
  }),
  // Loopback by default: the figures and /readyz are for the host's own probes unless the operator
  // opens them (the images set METRICS_HOST=0.0.0.0 for scrapers in other containers).
  metricsHost: setting({
    flag: '--metrics-host <host>',
    env: 'METRICS_HOST',
    help: 'address the --metrics-port server listens on',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  logLevel: logLevel(),
  /** Run on a server whose maxmemory-policy can evict pipeline keys (see eviction-guard.ts). */
  allowEviction: setting({
    flag: '--allow-eviction',
    env: 'ALLOW_EVICTION',
    help: 'run although Redis may evict pipeline keys (maxmemory-policy other than noeviction)',
    schema: onOff(),
  }),
  /** /readyz reports not ready while a master uses more than this share of its maxmemory (memory-watch.ts). */
  memoryReadyRatio: setting({
    flag: '--memory-ready-ratio <ratio>',
    env: 'MEMORY_READY_RATIO',
    help: '/readyz answers 503 while Redis uses more than this share of its maxmemory',
    schema: z.coerce.number().gt(0).max(1).default(DEFAULT_MEMORY_READY_RATIO),
  }),
  /** Replicas that must hold a write before it is confirmed or built on (WAIT; see replication.ts). */
  waitReplicas: setting({
    flag: '--wait-replicas <n>',
    env: 'WAIT_REPLICAS',
    help: 'writes count as done only once this many replicas hold them (WAIT), so a failover cannot lose them',
    schema: z.coerce.number().int().min(0).max(16).default(0),
  }),
  waitTimeout: setting({
    flag: '--wait-timeout <duration>',
    env: 'WAIT_TIMEOUT',
    help: 'how long one WAIT for --wait-replicas may take before the step is retried',
    schema: duration()
      .refine((ms) => ms > 0, 'must be more than 0')
      .prefault('1s'),
  }),
};

export const connectionSchema = settingsSchema(CONNECTION_SETTINGS);
export type ConnectionConfig = z.infer<typeof connectionSchema>;

/** The durability a service's writes wait for (--wait-replicas, --wait-timeout). */
export function durabilityOf(config: { waitReplicas: number; waitTimeout: number }): Durability {
  return { replicas: config.waitReplicas, timeoutMs: config.waitTimeout };
}
