import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_PREFIX, type Durability, PREFIX_PATTERN, PREFIX_RULE } from '@pipe/streams';
import { parseDuration } from './config.js';
import { DEFAULT_MEMORY_READY_RATIO } from './memory-watch.js';

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
 * long-running services keep retrying instead.
 */
export const giveUpShape = {
  giveUpAfter: duration()
    .refine((ms) => ms > 0, 'must be more than 0')
    .default(10_000),
};

/** Where Redis is and what the keys are called: the part of every service's config that is the same. */
export const connectionSchema = z.object({
  redisUrl: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://'),
  clusterNodes: z
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
  prefix: z.string().regex(PREFIX_PATTERN, PREFIX_RULE).default(DEFAULT_PREFIX),
  tlsCa: tlsFile(),
  tlsCert: tlsFile(),
  tlsKey: tlsFile(),
  metricsPort: z.coerce.number().int().min(0).max(65535).optional(),
  // Loopback by default: the figures and /readyz are for the host's own probes unless the operator
  // opens them (the images set METRICS_HOST=0.0.0.0 for scrapers in other containers).
  metricsHost: z.string().min(1).default('127.0.0.1'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Run on a server whose maxmemory-policy can evict pipeline keys (see eviction-guard.ts). */
  allowEviction: z
    .union([z.boolean(), z.enum(['1', 'true', '0', 'false'])])
    .transform((v) => v === true || v === '1' || v === 'true')
    .default(false),
  /** /readyz reports not ready while a master uses more than this share of its maxmemory (memory-watch.ts). */
  memoryReadyRatio: z.coerce.number().gt(0).max(1).default(DEFAULT_MEMORY_READY_RATIO),
  /** Replicas that must hold a write before it is confirmed or built on (WAIT; see replication.ts). */
  waitReplicas: z.coerce.number().int().min(0).max(16).default(0),
  waitTimeout: duration()
    .refine((ms) => ms > 0, 'must be more than 0')
    .default(1000),
});
export type ConnectionConfig = z.infer<typeof connectionSchema>;

/** Flags every command of every service accepts, with the env variable each one overrides. */
export const CONNECTION_FLAGS = [
  ['--redis-url <url>', 'Redis URL (redis:// or rediss://)', 'REDIS_URL', 'redisUrl'],
  [
    '--cluster-nodes <list>',
    'Redis Cluster seeds host:port,... (selects cluster mode)',
    'REDIS_CLUSTER_NODES',
    'clusterNodes',
  ],
  ['--prefix <prefix>', 'key prefix of the pipeline', 'STREAM_PREFIX', 'prefix'],
  ['--tls-ca <file>', 'CA certificate for rediss://', 'REDIS_TLS_CA', 'tlsCa'],
  ['--tls-cert <file>', 'client certificate for rediss://', 'REDIS_TLS_CERT', 'tlsCert'],
  ['--tls-key <file>', 'client key for rediss://', 'REDIS_TLS_KEY', 'tlsKey'],
  [
    '--metrics-port <port>',
    'serve /healthz, /readyz and /metrics on this port',
    'METRICS_PORT',
    'metricsPort',
  ],
  [
    '--metrics-host <host>',
    'address the --metrics-port server listens on (default 127.0.0.1)',
    'METRICS_HOST',
    'metricsHost',
  ],
  ['--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'LOG_LEVEL', 'logLevel'],
  [
    '--allow-eviction',
    'run although Redis may evict pipeline keys (maxmemory-policy other than noeviction)',
    'ALLOW_EVICTION',
    'allowEviction',
  ],
  [
    '--memory-ready-ratio <ratio>',
    `/readyz answers 503 while Redis uses more than this share of its maxmemory (default ${DEFAULT_MEMORY_READY_RATIO})`,
    'MEMORY_READY_RATIO',
    'memoryReadyRatio',
  ],
  [
    '--wait-replicas <n>',
    'writes count as done only once this many replicas hold them (WAIT), so a failover cannot lose them (default 0)',
    'WAIT_REPLICAS',
    'waitReplicas',
  ],
  [
    '--wait-timeout <duration>',
    'how long one WAIT for --wait-replicas may take before the step is retried (default 1s)',
    'WAIT_TIMEOUT',
    'waitTimeout',
  ],
] as const;

/** The durability a service's writes wait for (--wait-replicas, --wait-timeout). */
export function durabilityOf(config: { waitReplicas: number; waitTimeout: number }): Durability {
  return { replicas: config.waitReplicas, timeoutMs: config.waitTimeout };
}
