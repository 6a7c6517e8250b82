import {
  claimPolicySettings,
  CommandConfig,
  CONNECTION_SETTINGS,
  durabilityOf,
  duration,
  durationSetting,
  giveUpAfter,
  setting,
  settingsSchema,
} from '@pipe/service';
import { z } from 'zod';
import type { SweepPolicy } from './sweeper.js';

/** The sweep policy, shared by `run` and `once`. */
export const SWEEP_SETTINGS = {
  /** Entries pending at least this long are reclaimed, or dead-lettered when delivered this often. */
  ...claimPolicySettings('REAPER', {
    minIdle: 'reclaim entries pending at least this long',
    maxDeliveries: 'dead-letter entries delivered this often',
  }),
  /** Consumers idle longer than this with nothing pending are deleted. */
  consumerTtl: durationSetting(
    '--consumer-ttl',
    'REAPER_CONSUMER_TTL',
    'delete consumers idle this long with nothing pending',
    '1h',
  ),
  /** A consumer idle for less than this is live and may be handed claimed entries. */
  liveWithin: durationSetting(
    '--live-within',
    'REAPER_LIVE_WITHIN',
    'a consumer seen within this is live',
    '15s',
  ),
};

const json = (help: string) => setting({ flag: '--json', help, schema: z.boolean().default(false) });

export const sweepSchema = settingsSchema({ ...SWEEP_SETTINGS, ...CONNECTION_SETTINGS });
export type SweepConfig = z.infer<typeof sweepSchema>;

/** The Sweeper's policy from a sweeping command's config (durations in ms). */
export const sweepPolicyOf = (config: SweepConfig): SweepPolicy => ({
  minIdleMs: config.minIdle,
  maxDeliveries: config.maxDeliveries,
  consumerTtlMs: config.consumerTtl,
  liveWithinMs: config.liveWithin,
  durability: durabilityOf(config),
});

/** `run`: sweeps every interval while holding the lease. */
export const runConfig = new CommandConfig({
  /** Pause between sweeps. */
  interval: durationSetting('--interval', 'REAPER_INTERVAL', 'pause between sweeps', '5s'),
  /** Lease time: a replica takes over at most about this long after the active one died. */
  leaseTtl: setting({
    flag: '--lease-ttl <duration>',
    env: 'REAPER_LEASE_TTL',
    help: 'lease time; a standby takes over within it',
    schema: duration()
      .prefault('15s')
      .refine((ms) => ms >= 300, 'must be at least 300ms'),
  }),
  ...SWEEP_SETTINGS,
  ...CONNECTION_SETTINGS,
});
export const runSchema = runConfig.schema;
export type RunConfig = z.infer<typeof runSchema>;

/** `once`: one sweep with the policy of `run`, then exit. */
export const onceConfig = new CommandConfig({
  json: json('summary as JSON'),
  ...SWEEP_SETTINGS,
  ...CONNECTION_SETTINGS,
  giveUpAfter: giveUpAfter(),
});
export type OnceConfig = z.infer<typeof onceConfig.schema>;

/** The one-shot commands that only read or edit (status, dlq): the connection and --give-up-after. */
const inspectSettings = { ...CONNECTION_SETTINGS, giveUpAfter: giveUpAfter() };

export const statusConfig = new CommandConfig({ json: json('as JSON, for scripts'), ...inspectSettings });
export type StatusConfig = z.infer<typeof statusConfig.schema>;

export const dlqListConfig = new CommandConfig({ json: json('as JSON'), ...inspectSettings });
export type DlqListConfig = z.infer<typeof dlqListConfig.schema>;

export const dlqReplayConfig = new CommandConfig({
  all: setting({ flag: '--all', help: 'every letter', schema: z.boolean().default(false) }),
  ...inspectSettings,
});
export type DlqReplayConfig = z.infer<typeof dlqReplayConfig.schema>;

export const dlqPurgeConfig = new CommandConfig({
  yes: setting({ flag: '--yes', help: 'really delete every letter', schema: z.boolean().default(false) }),
  ...inspectSettings,
});
export type DlqPurgeConfig = z.infer<typeof dlqPurgeConfig.schema>;
