import { connectionSchema, duration, positiveInt } from '@pipe/service';
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
const devices = () => positiveInt().max(MAX_DEVICES, `at most ${MAX_DEVICES} devices`).default(3);

/** Batch commands print a summary on stdout; their logs stay quiet unless asked for. */
const quietLogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn');

/** Flags of every command that writes readings. */
export const writerSchema = connectionSchema.extend({
  retention: positiveDuration()
    .refine((ms) => ms <= MAX_RETENTION_MS, 'at most 3650d')
    .default(2 * DAY_MS),
  idFromTime: flag().default(false),
  giveUpAfter: positiveDuration().default(60_000),
  batchSize: positiveInt().max(5000, 'at most 5000 readings per batch').default(1000),
  shards: positiveInt().max(1024, 'at most 1024 shards per day').default(1),
  json: flag().default(false),
});

/**
 * Each command's fields beyond the connection flags, with the env variable that sets it (undefined:
 * flag only). configFrom reads exactly these, so every field of a schema must be listed.
 */
const WRITER_ENV = {
  retention: 'RETENTION',
  idFromTime: 'ID_FROM_TIME',
  giveUpAfter: 'GIVE_UP_AFTER',
  batchSize: undefined,
  shards: 'SHARDS',
  json: undefined,
};
const SIMULATION_FLAGS = { devices: undefined, interval: undefined, seed: undefined };
export const COMMAND_ENV = {
  run: { ...WRITER_ENV, ...SIMULATION_FLAGS, speed: undefined, duration: undefined },
  backfill: { ...WRITER_ENV, ...SIMULATION_FLAGS, from: undefined, to: undefined },
  ingest: { ...WRITER_ENV, file: undefined, format: undefined, strict: undefined, rejects: undefined },
  reset: { yes: undefined },
} satisfies Record<string, Record<string, string | undefined>>;

export const runSchema = writerSchema
  .extend({
    devices: devices(),
    interval: positiveDuration().default(1000),
    speed: z.coerce.number().positive().finite().default(1),
    seed: z.string().optional(),
    duration: positiveDuration().optional(),
  })
  .superRefine((config, ctx) => {
    // Simulated time starts on a whole interval at or before now: up to one interval in the past.
    if (config.interval >= config.retention) {
      ctx.addIssue({
        code: 'custom',
        path: ['interval'],
        message: 'must be shorter than --retention, or the first readings would expire as they are written',
      });
    }
  });
export type RunConfig = z.infer<typeof runSchema>;

export const backfillSchema = writerSchema
  .extend({
    from: instant().optional(),
    to: instant().optional(),
    devices: devices(),
    interval: positiveDuration().default(1000),
    seed: z.string().default('1'),
    logLevel: quietLogLevel,
  })
  .transform((config, ctx) => {
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
  });
export type BackfillConfig = z.infer<typeof backfillSchema>;

export const ingestSchema = writerSchema.extend({
  file: z.string().min(1).default('-'),
  format: z.enum(['ndjson', 'csv']).optional(),
  strict: flag().default(false),
  rejects: z.string().min(1).optional(),
  logLevel: quietLogLevel,
});
export type IngestConfig = z.infer<typeof ingestSchema>;

export const resetSchema = connectionSchema.extend({
  yes: flag().default(false),
  logLevel: quietLogLevel,
});
export type ResetConfig = z.infer<typeof resetSchema>;

/** The input format: --format, else the file's extension, else NDJSON. */
export function inputFormat(config: IngestConfig): 'ndjson' | 'csv' {
  return config.format ?? (/\.csv$/i.test(config.file) ? 'csv' : 'ndjson');
}
