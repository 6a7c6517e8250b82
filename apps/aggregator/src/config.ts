import { hostname } from 'node:os';
import { connectionSchema, duration, parseDuration, pipeName, positiveInt } from '@pipe/service';
import { z } from 'zod';

/** A duration, or `off` (kept as the string). */
const durationOrOff = () =>
  z.union([z.number(), z.string()]).transform((value, ctx): number | 'off' => {
    if (value === 'off') return 'off';
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: `not a duration or off (try 30s, 2m, off): ${value}` });
      return z.NEVER;
    }
    return ms;
  });

export const aggregatorConfigSchema = connectionSchema.extend({
  group: pipeName().default('aggregator'),
  /** Hand the averages from the group that counts them to this one (see ownership.ts). */
  takeOver: z.boolean().default(false),
  consumer: pipeName().default(`${hostname()}-${process.pid}`),
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
  /**
   * With drain: a consumer of the group not seen (XINFO CONSUMERS idle) for this long is dead, and its
   * pending entries, once idle this long too, may be adopted (see dead-consumers.ts). The reaper's
   * --min-idle default: a working consumer shows up every few seconds (--pending-check).
   */
  minIdle: duration()
    .refine((ms) => ms > 0, 'must be more than 0')
    .default(60_000),
  /**
   * With drain: how long to wait, once a dead consumer's pending entries hold the drain up, before
   * claiming them to this consumer and counting them; `off`: never, exit 3 after --give-up-after.
   */
  adoptAfter: durationOrOff().default(30_000),
  /** With drain: adopted entries delivered this often without an ack are dead-lettered (as the reaper does). */
  maxDeliveries: positiveInt().default(5),
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
  minIdle: 'AGGREGATOR_MIN_IDLE',
  adoptAfter: 'AGGREGATOR_ADOPT_AFTER',
  maxDeliveries: 'AGGREGATOR_MAX_DELIVERIES',
} as const;
