import { hostname } from 'node:os';
import { connectionSchema, duration, positiveInt } from '@pipe/service';
import { z } from 'zod';

export const aggregatorConfigSchema = connectionSchema.extend({
  group: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only')
    .default('aggregator'),
  /** Hand the averages from the group that counts them to this one (see ownership.ts). */
  takeOver: z.boolean().default(false),
  consumer: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only')
    .default(`${hostname()}-${process.pid}`),
  /** Allowed lateness of event time after an hour ends before it is published. */
  grace: duration().default(5_000),
  /**
   * When the group has been caught up and quiet for this long (wall clock), close the open hours that
   * ended at least this long and the grace ago: a quiet spell never overrides the grace.
   */
  idleClose: duration().default(60_000),
  /**
   * How far ahead of this machine's clock stream time may run. A reading stamped further ahead is
   * still counted, but cannot declare the running hour over (a device with a fast clock would
   * otherwise close hours before the other devices' readings arrive). The demo's accelerated clock
   * raises it.
   */
  maxAhead: duration().default(0),
  keepHours: positiveInt().default(120),
  alertAbove: z.coerce.number().finite().optional(),
  drain: z.boolean().default(false),
  /**
   * Entries per partition and read. Not more: ioredis builds a reply of thousands of entries over several
   * socket reads, and what it has built survives into the old generation. With 1000, a 1M-reading drain
   * spent twice as long collecting garbage (1.2 s against 0.8 s at 500) and took about 6% longer.
   */
  count: positiveInt().max(10_000).default(500),
  blockMs: duration().default(1000),
  /** How often the consumer re-reads its own pending entries (entries the reaper claimed for it). */
  pendingCheck: duration().default(2000),
});

export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;

/** Flag name → env variable for the aggregator's own settings. */
export const AGGREGATOR_ENV = {
  group: 'AGGREGATOR_GROUP',
  takeOver: undefined,
  consumer: 'AGGREGATOR_CONSUMER',
  grace: 'AGGREGATOR_GRACE',
  idleClose: 'AGGREGATOR_IDLE_CLOSE',
  maxAhead: 'AGGREGATOR_MAX_AHEAD',
  keepHours: 'AGGREGATOR_KEEP_HOURS',
  alertAbove: 'AGGREGATOR_ALERT_ABOVE',
  drain: undefined,
  count: 'AGGREGATOR_BATCH',
  blockMs: undefined,
  pendingCheck: undefined,
} as const;
