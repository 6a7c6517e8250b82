import {
  CommandConfig,
  CONNECTION_SETTINGS,
  duration,
  logLevel,
  positiveInt,
  type Setting,
  setting,
  settingsSchema,
} from '@pipe/service';
import { z } from 'zod';
import { parseTimestamp } from './ingest/records.js';

const DAY_MS = 86_400_000;

/** `--flag` (true), or an env value 1/0/true/false/yes/no. */
const flag = () =>
  z.union([z.boolean(), z.string()]).transform((value, ctx) => {
    if (typeof value === 'boolean') return value;
    const text = value.trim().toLowerCase();
    if (['1', 'true', 'yes'].includes(text)) return true;
    if (['0', 'false', 'no'].includes(text)) return false;
    ctx.addIssue({ code: 'custom', message: `not a boolean (1/0, true/false, yes/no): ${value}` });
    return z.NEVER;
  });

/** ISO-8601 with a zone, or epoch ms, as ms. */
const instant = () =>
  z.string().transform((value, ctx) => {
    const ms = parseTimestamp(value);
    if (typeof ms === 'string') {
      ctx.addIssue({ code: 'custom', message: ms });
      return z.NEVER;
    }
    return ms;
  });

/** Whole milliseconds: event times are integer ms, so a fraction (`0.5`, `1.5ms`) would make readings invalid. */
const positiveDuration = () =>
  duration()
    .refine((ms) => ms > 0, 'must be more than 0')
    .refine((ms) => Number.isInteger(ms), 'must be a whole number of milliseconds, at least 1ms');

/**
 * Ten years. Expiry times (newest reading + retention) then stay far inside what PEXPIREAT accepts
 * and what a double holds exactly in the script; a longer one used to fail inside it (exit 4).
 */
const MAX_RETENTION_MS = 3650 * DAY_MS;

/**
 * Every device reads once per step, and a step goes out whole (one script call per partition, one
 * simulator state per device): this keeps that call in the tens of milliseconds and memory small.
 */
const MAX_DEVICES = 10_000;

/** Batch commands print a summary on stdout; their logs stay quiet unless asked for. */
const QUIET_CONNECTION_SETTINGS = { ...CONNECTION_SETTINGS, logLevel: logLevel('warn') };

/** Settings of every command that writes readings (after the connection settings in --help). */
const WRITER_SETTINGS = {
  retention: setting({
    flag: '--retention <duration>',
    env: 'RETENTION',
    help: 'keep a partition this long after its newest reading, at most 3650d',
    schema: positiveDuration()
      .refine((ms) => ms <= MAX_RETENTION_MS, 'at most 3650d')
      .prefault('2d'),
  }),
  idFromTime: setting({
    flag: '--id-from-time',
    env: 'ID_FROM_TIME',
    help: 'write <ts>-* IDs (RU202 layout; one ordered producer)',
    schema: flag().default(false),
  }),
  giveUpAfter: setting({
    flag: '--give-up-after <duration>',
    env: 'GIVE_UP_AFTER',
    help: 'exit 3 when Redis stays unavailable this long',
    schema: positiveDuration().prefault('60s'),
  }),
  batchSize: setting({
    flag: '--batch-size <n>',
    help: 'readings (ingest: input lines) per batch, at most 5000',
    schema: positiveInt().max(5000, 'at most 5000 readings per batch').default(1000),
  }),
  shards: setting({
    flag: '--shards <n>',
    env: 'SHARDS',
    help: "streams per day, by device, spread over a cluster's masters (1: <prefix>:YYYYMMDD)",
    schema: positiveInt().max(1024, 'at most 1024 shards per day').default(1),
  }),
  json: setting({
    flag: '--json',
    help: 'print the summary as one JSON object',
    schema: flag().default(false),
  }),
};

export const writerSchema = settingsSchema({ ...CONNECTION_SETTINGS, ...WRITER_SETTINGS });

/** Settings of the commands that simulate devices (run, backfill), before the connection settings. */
const simulationSettings = <S extends z.ZodType>(seed: Setting<S>) => ({
  devices: setting({
    flag: '--devices <n>',
    help: `number of devices sensor-001, sensor-002, ..., at most ${MAX_DEVICES}`,
    schema: positiveInt().max(MAX_DEVICES, `at most ${MAX_DEVICES} devices`).default(3),
  }),
  interval: setting({
    flag: '--interval <duration>',
    help: 'time between two readings of a device, whole ms (run: simulated time)',
    schema: positiveDuration().prefault('1s'),
  }),
  seed,
});

export const runConfig = new CommandConfig(
  {
    speed: setting({
      flag: '--speed <k>',
      help: 'simulated time runs k times faster than real time',
      schema: z.coerce.number().positive().finite().default(1),
    }),
    duration: setting({
      flag: '--duration <duration>',
      help: 'stop after this much real time (default: run until SIGINT/SIGTERM)',
      schema: positiveDuration().optional(),
    }),
    ...simulationSettings(
      setting({
        flag: '--seed <seed>',
        help: 'seed of the simulated values (default: the current time)',
        schema: z.string().optional(),
      }),
    ),
    ...CONNECTION_SETTINGS,
    ...WRITER_SETTINGS,
  },
  (schema) =>
    schema.superRefine((config, ctx) => {
      // Simulated time starts on a whole interval at or before now: up to one interval in the past.
      if (config.interval >= config.retention) {
        ctx.addIssue({
          code: 'custom',
          path: ['interval'],
          message: 'must be shorter than --retention, or the first readings would expire as they are written',
        });
      }
    }),
);
export const runSchema = runConfig.schema;
export type RunConfig = z.infer<typeof runSchema>;

export const backfillConfig = new CommandConfig(
  {
    from: setting({
      flag: '--from <time>',
      help: 'first reading, ISO-8601 with a zone or epoch ms (default: --to minus 24h)',
      schema: instant().optional(),
    }),
    to: setting({
      flag: '--to <time>',
      help: 'end, exclusive (default: now, on a whole interval)',
      schema: instant().optional(),
    }),
    ...simulationSettings(
      setting({
        flag: '--seed <seed>',
        help: 'seed of the simulated values',
        schema: z.string().default('1'),
      }),
    ),
    ...QUIET_CONNECTION_SETTINGS,
    ...WRITER_SETTINGS,
  },
  (schema) =>
    schema.transform((config, ctx) => {
      // The default data set: the last 24 hours, on whole intervals, so the pipeline can process it at once.
      const to = config.to ?? Math.floor(Date.now() / config.interval) * config.interval;
      const from = config.from ?? to - DAY_MS;
      if (from >= to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before --to' });
      if (from + config.retention <= Date.now()) {
        ctx.addIssue({
          code: 'custom',
          path: ['from'],
          message: `${new Date(from).toISOString()} is older than the retention; its readings would expire as they are written`,
        });
      }
      return { ...config, from, to };
    }),
);
export const backfillSchema = backfillConfig.schema;
export type BackfillConfig = z.infer<typeof backfillSchema>;

export const ingestConfig = new CommandConfig({
  file: setting({
    flag: '--file <path>',
    help: 'input file, or - for stdin',
    schema: z.string().min(1).default('-'),
  }),
  format: setting({
    flag: '--format <format>',
    help: 'ndjson | csv (default: csv for *.csv, else ndjson); CSV needs a header row',
    schema: z.enum(['ndjson', 'csv']).optional(),
  }),
  strict: setting({
    flag: '--strict',
    help: 'stop at the first bad record (exit 2); the records before it still land',
    schema: flag().default(false),
  }),
  rejects: setting({
    flag: '--rejects <path>',
    help: 'write every rejected line as JSON {line, reason, input} to this file',
    schema: z.string().min(1).optional(),
  }),
  ...QUIET_CONNECTION_SETTINGS,
  ...WRITER_SETTINGS,
});
export const ingestSchema = ingestConfig.schema;
export type IngestConfig = z.infer<typeof ingestSchema>;

/** Bytes, as digits or with a binary unit: `65536`, `64kb`, `1mb`. */
const byteSize = () =>
  z.string().transform((value, ctx) => {
    const match = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(value.trim());
    const bytes = match
      ? Number(match[1]) * (/^k/i.test(match[2] ?? '') ? 1024 : /^m/i.test(match[2] ?? '') ? 1024 ** 2 : 1)
      : Number.NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 1) {
      ctx.addIssue({ code: 'custom', message: `not a size in bytes (65536, 64kb, 1mb): ${value}` });
      return z.NEVER;
    }
    return bytes;
  });

const { retention, idFromTime, batchSize, shards } = WRITER_SETTINGS;

export const httpConfig = new CommandConfig(
  {
    port: setting({
      flag: '--port <port>',
      env: 'INGEST_PORT',
      help: 'port of POST /v1/readings, /healthz, /readyz, /metrics (0: a free one)',
      schema: z.coerce.number().int().min(0).max(65_535),
    }),
    host: setting({
      flag: '--host <address>',
      env: 'INGEST_HOST',
      help: 'address to listen on (0.0.0.0 for every interface)',
      schema: z.string().min(1).default('127.0.0.1'),
    }),
    token: setting({
      flag: '--token <token>',
      env: 'INGEST_TOKEN',
      help: 'bearer token every POST must carry (Authorization: Bearer <token>); prefer the env variable',
      schema: z.string().min(1).optional(),
    }),
    auth: setting({
      flag: '--no-auth',
      help: 'accept requests without a token (on purpose: without it, a missing --token is an error)',
      schema: flag().optional(),
    }),
    maxBody: setting({
      flag: '--max-body <size>',
      env: 'INGEST_MAX_BODY',
      help: 'largest request body (bytes, or 64kb, 1mb); more is answered 413',
      schema: byteSize().prefault('1mb'),
    }),
    maxConcurrent: setting({
      flag: '--max-concurrent <n>',
      help: 'requests written at once; the others wait unread',
      schema: positiveInt().max(10_000).default(32),
    }),
    writeTimeout: setting({
      flag: '--write-timeout <duration>',
      env: 'INGEST_WRITE_TIMEOUT',
      help: 'how long a request may wait for Redis before it is answered 503 (Retry-After)',
      schema: positiveDuration().prefault('5s'),
    }),
    ...CONNECTION_SETTINGS,
    retention,
    idFromTime,
    batchSize,
    shards,
  },
  (schema) =>
    schema.superRefine((config, ctx) => {
      if (config.token === undefined && config.auth !== false) {
        ctx.addIssue({
          code: 'custom',
          path: ['token'],
          message: 'required (--token or INGEST_TOKEN); give --no-auth to accept requests without one',
        });
      }
    }),
);
export const httpSchema = httpConfig.schema;
export type HttpConfig = z.infer<typeof httpSchema>;

/** Topic filters: a repeated flag (commander collects them) or a comma-separated env variable. */
const topicFilters = () =>
  z
    .union([z.array(z.string()), z.string()])
    .transform((value) =>
      (Array.isArray(value) ? value : value.split(',')).map((t) => t.trim()).filter(Boolean),
    )
    .pipe(
      z
        .array(
          z
            .string()
            .refine(
              (t) => !/#./.test(t) && t.split('/').every((l) => l === '+' || l === '#' || !/[+#]/.test(l)),
              {
                message: 'not an MQTT topic filter (+ and # stand for whole levels, # only at the end)',
              },
            ),
        )
        .min(1, 'at least one topic'),
    );

/** A setting of text that may be left out (a user name, a file). */
const optionalText = (flag: string, env: string, help: string) =>
  setting({ flag, env, help, schema: z.string().min(1).optional() });

export const mqttConfig = new CommandConfig({
  mqttUrl: setting({
    flag: '--mqtt-url <url>',
    env: 'MQTT_URL',
    help: 'broker, mqtt://host:1883 or mqtts://host:8883',
    schema: z
      .string()
      .regex(/^mqtts?:\/\/[^/]+/, 'must be mqtt://host:port or mqtts://host:port')
      .default('mqtt://127.0.0.1:1883'),
  }),
  mqttUsername: optionalText('--mqtt-username <name>', 'MQTT_USERNAME', 'broker user'),
  mqttPassword: optionalText(
    '--mqtt-password <password>',
    'MQTT_PASSWORD',
    'broker password (prefer the env variable)',
  ),
  mqttCa: optionalText('--mqtt-ca <path>', 'MQTT_CA', 'CA file of an mqtts:// broker'),
  mqttCert: optionalText('--mqtt-cert <path>', 'MQTT_CERT', 'client certificate for mqtts://'),
  mqttKey: optionalText('--mqtt-key <path>', 'MQTT_KEY', 'client key for mqtts://'),
  topic: setting({
    flag: '--topic <filter...>',
    env: 'MQTT_TOPICS',
    help: "topic filter, repeatable (env: comma-separated); the device is the level of its '+', else the payload's device",
    schema: topicFilters().prefault('sensors/+/readings'),
  }),
  clientId: setting({
    flag: '--client-id <id>',
    env: 'MQTT_CLIENT_ID',
    help: 'stable client id of the persistent session (messages published while the bridge is down wait for it)',
    schema: z.string().min(1).max(128).default('pipe-producer-bridge'),
  }),
  maxPayload: setting({
    flag: '--max-payload <size>',
    env: 'MQTT_MAX_PAYLOAD',
    help: 'larger messages are rejected (bytes, or 64kb, 1mb)',
    schema: byteSize().prefault('256kb'),
  }),
  maxInFlight: setting({
    flag: '--max-in-flight <n>',
    env: 'MQTT_MAX_IN_FLIGHT',
    help: 'messages written at once, each acknowledged once written; the next waits (and the broker holds the rest)',
    schema: positiveInt().max(10_000).default(100),
  }),
  rejects: setting({
    flag: '--rejects <path>',
    env: 'MQTT_REJECTS',
    help: 'append every rejection as JSON {topic, index, reason, payload} to this file before acknowledging',
    schema: z.string().min(1).optional(),
  }),
  ...CONNECTION_SETTINGS,
  retention,
  idFromTime,
  batchSize,
  shards,
});
export const mqttSchema = mqttConfig.schema;
export type MqttConfig = z.infer<typeof mqttSchema>;

export const resetConfig = new CommandConfig({
  yes: setting({
    flag: '--yes',
    help: 'really delete; without it the keys are only listed (exit 1)',
    schema: flag().default(false),
  }),
  ...QUIET_CONNECTION_SETTINGS,
});
export const resetSchema = resetConfig.schema;
export type ResetConfig = z.infer<typeof resetSchema>;

/** The input format: --format, else the file's extension, else NDJSON. */
export function inputFormat(config: IngestConfig): 'ndjson' | 'csv' {
  return config.format ?? (/\.csv$/i.test(config.file) ? 'csv' : 'ndjson');
}
