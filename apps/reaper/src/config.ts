import { connectionSchema, duration, GIVE_UP_ENV, giveUpShape, positiveInt } from '@pipe/service';
import { z } from 'zod';

/** The sweep policy, shared by `run` and `once`. */
export const sweepSchema = connectionSchema.extend({
  /** Entries pending at least this long are reclaimed (or dead-lettered). */
  minIdle: duration().default(60_000),
  /** Entries delivered this many times without an ack go to the dead-letter stream. */
  maxDeliveries: positiveInt().default(5),
  /** Consumers idle longer than this with nothing pending are deleted. */
  consumerTtl: duration().default(3_600_000),
  /** A consumer idle for less than this is live and may be handed claimed entries. */
  liveWithin: duration().default(15_000),
});

export const runSchema = sweepSchema.extend({
  /** Pause between sweeps. */
  interval: duration().default(5_000),
  /** Lease time: a replica takes over at most about this long after the active one died. */
  leaseTtl: duration()
    .default(15_000)
    .refine((ms) => ms >= 300, 'must be at least 300ms'),
});

export type SweepConfig = z.infer<typeof sweepSchema>;
export type RunConfig = z.infer<typeof runSchema>;

/** Flag name → env variable for the reaper's own settings. */
export const SWEEP_ENV = {
  minIdle: 'REAPER_MIN_IDLE',
  maxDeliveries: 'REAPER_MAX_DELIVERIES',
  consumerTtl: 'REAPER_CONSUMER_TTL',
  liveWithin: 'REAPER_LIVE_WITHIN',
} as const;

export const RUN_ENV = { ...SWEEP_ENV, interval: 'REAPER_INTERVAL', leaseTtl: 'REAPER_LEASE_TTL' } as const;

/** `status` and `dlq` need only the connection (and, being one-shot, --give-up-after). */
export const inspectSchema = connectionSchema.extend({ json: z.boolean().default(false), ...giveUpShape });

/** `once`: one sweep with the policy of `run`, then exit. */
export const onceSchema = sweepSchema.extend({ json: z.boolean().default(false), ...giveUpShape });

/** Flag name → env variable of the one-shot commands' own settings. */
export const ONCE_ENV = { ...SWEEP_ENV, json: undefined, ...GIVE_UP_ENV } as const;
export const INSPECT_ENV = { json: undefined, ...GIVE_UP_ENV } as const;
