import {
  CommandConfig,
  CONNECTION_SETTINGS,
  duration,
  giveUpAfter,
  pipeName,
  positiveInt,
  setting,
} from '@pipe/service';
import { z } from 'zod';

/** `pipe-alerter run`. */
export const runConfig = new CommandConfig({
  rules: setting({
    flag: '--rules <file>',
    env: 'ALERTER_RULES',
    help: 'the rules file (YAML or JSON); SIGHUP reloads it',
    schema: z.string({ error: 'is required (--rules <file> or ALERTER_RULES)' }).min(1),
  }),
  drain: setting({
    flag: '--drain',
    help: 'apply everything present, fire what is silent by the newest reading, exit 0',
    schema: z.boolean().default(false),
  }),
  webhook: setting({
    flag: '--webhook <url>',
    env: 'ALERTER_WEBHOOK',
    help: 'POST each transition here as JSON (retried until 2xx, each acknowledged once answered)',
    schema: z
      .string()
      .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
      .optional(),
  }),
  webhookRetryCap: setting({
    flag: '--webhook-retry-cap <duration>',
    help: 'longest pause between webhook retries (they double from 100ms)',
    schema: duration().prefault('30s'),
  }),
  group: setting({
    flag: '--group <name>',
    env: 'ALERTER_GROUP',
    help: "the alerter's consumer group on the partitions",
    schema: pipeName(64).default('alerter'),
  }),
  count: setting({
    flag: '--count <n>',
    env: 'ALERTER_BATCH',
    help: 'entries per read (one script call)',
    schema: positiveInt().max(10_000).default(500),
  }),
  blockMs: setting({
    flag: '--block-ms <duration>',
    help: 'blocking read timeout',
    schema: duration().prefault('1s'),
  }),
  leaseTtl: setting({
    flag: '--lease-ttl <duration>',
    env: 'ALERTER_LEASE_TTL',
    help: 'lease time; a waiting alerter takes over within it after the reading one died',
    schema: duration()
      .prefault('15s')
      .refine((ms) => ms >= 300, 'must be at least 300ms'),
  }),
  silenceCheck: setting({
    flag: '--silence-check <duration>',
    help: 'while live: how often no_data rules are checked on the clock',
    schema: duration().prefault('1s'),
  }),
  ...CONNECTION_SETTINGS,
  giveUpAfter: giveUpAfter('with --drain: '),
});
export type RunConfig = z.infer<typeof runConfig.schema>;

/** `pipe-alerter status`. */
export const statusConfig = new CommandConfig({
  json: setting({ flag: '--json', help: 'as JSON, for scripts', schema: z.boolean().default(false) }),
  group: runConfig.settings.group,
  ...CONNECTION_SETTINGS,
  giveUpAfter: giveUpAfter(),
});
export type StatusConfig = z.infer<typeof statusConfig.schema>;
