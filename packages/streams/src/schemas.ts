import { z } from 'zod';

/** Entries without a `device` field (the RU202 layout) belong to this device. */
export const DEFAULT_DEVICE = 'default';

export const DEVICE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The temperatures a reading may carry, in °F: from absolute zero to a million. Wider values are no
 * sensor's, and an hour's sum of them could overflow a double (1e308 + 1e308 is Infinity).
 */
export const TEMP_F_MIN = -459.67;
export const TEMP_F_MAX = 1_000_000;

export const ReadingSchema = z.object({
  device: z.string().regex(DEVICE_PATTERN, 'device must be 1-64 of A-Z a-z 0-9 _ . : -'),
  /** Event time in ms since the epoch (UTC). */
  ts: z.number().int().nonnegative(),
  temp_f: z.number().finite().min(TEMP_F_MIN).max(TEMP_F_MAX),
  humidity: z.number().finite().min(0).max(100).optional(),
});
export type Reading = z.infer<typeof ReadingSchema>;

export const HourlyAverageSchema = z.object({
  /** Start of the UTC hour in ms; also the entry's ID `<ms>-0`. */
  hourStart: z.number().int().nonnegative(),
  date: z.string().regex(/^\d{4}\/\d{2}\/\d{2}$/),
  hour: z.number().int().min(0).max(23),
  average_temp_f: z.number().finite(),
  num_observations: z.number().int().positive(),
  min_temp_f: z.number().finite().optional(),
  max_temp_f: z.number().finite().optional(),
  devices: z.number().int().nonnegative().optional(),
  average_humidity: z.number().finite().optional(),
});
export type HourlyAverage = z.infer<typeof HourlyAverageSchema>;

/**
 * The fleet's result of one window of any size (`temps:averages:<size>`, and `temps:averages` in a
 * layout other than `1h` alone): the RU202 fields of an hourly average, plus the spread and the first
 * and last reading times. `date` and `hour` are the window start's.
 */
export const WindowAverageSchema = z.object({
  /** Start of the window in ms; also the entry's ID `<ms>-0`. */
  start: z.number().int().nonnegative(),
  /** Its size, as `--windows` spells it (`1m`). */
  size: z.string().regex(/^\d{1,2}[mhd]$/),
  date: z.string().regex(/^\d{4}\/\d{2}\/\d{2}$/),
  hour: z.number().int().min(0).max(23),
  average_temp_f: z.number().finite(),
  num_observations: z.number().int().positive(),
  min_temp_f: z.number().finite(),
  max_temp_f: z.number().finite(),
  devices: z.number().int().nonnegative(),
  average_humidity: z.number().finite().optional(),
  /** Population standard deviation of the window's temperatures. */
  stddev_temp_f: z.number().finite().nonnegative(),
  /** Event times (ms) of the window's first and last readings. */
  first_ts: z.number().int().nonnegative(),
  last_ts: z.number().int().nonnegative(),
});
export type WindowAverage = z.infer<typeof WindowAverageSchema>;

/** One device's result of one window (`{temps:device:<device>}:<size>`, entry ID `<start>-0`). */
export const DeviceWindowSchema = z.object({
  start: z.number().int().nonnegative(),
  count: z.number().int().positive(),
  mean: z.number().finite(),
  min: z.number().finite(),
  max: z.number().finite(),
  stddev: z.number().finite().nonnegative(),
  first_ts: z.number().int().nonnegative(),
  last_ts: z.number().int().nonnegative(),
  average_humidity: z.number().finite().optional(),
});
export type DeviceWindow = z.infer<typeof DeviceWindowSchema>;

/**
 * A device's latest 1h result as the devices index keeps it (`{temps:devices}:latest`, JSON per device):
 * the hour's start and its statistics, without first/last times or humidity.
 */
export const DeviceLatestHourSchema = DeviceWindowSchema.pick({
  start: true,
  count: true,
  mean: true,
  stddev: true,
  min: true,
  max: true,
});
export type DeviceLatestHour = z.infer<typeof DeviceLatestHourSchema>;

/** An entry moved out of its stream because it could not be processed, with everything to replay it. */
export const DeadLetterSchema = z.object({
  stream: z.string().min(1),
  id: z.string().min(1),
  group: z.string(),
  consumer: z.string(),
  deliveries: z.number().int().nonnegative(),
  idle_ms: z.number().int().nonnegative(),
  reason: z.string().min(1),
  fields: z.record(z.string(), z.string()),
  dead_at: z.number().int().nonnegative(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;

/** A reading that arrived after its hour was published. */
export const LateReadingSchema = z.object({
  stream: z.string().min(1),
  id: z.string().min(1),
  reason: z.string().min(1),
  fields: z.record(z.string(), z.string()),
});
export type LateReading = z.infer<typeof LateReadingSchema>;
