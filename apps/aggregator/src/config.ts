import { hostname } from 'node:os';
import {
  CommandConfig,
  claimPolicySettings,
  CONNECTION_SETTINGS,
  durationSetting,
  onOff,
  giveUpAfter,
  parseDuration,
  pipeName,
  positiveInt,
  setting,
  settingsSchema,
} from '@pipe/service';
import { parseKeepEntries, WindowLayout } from '@pipe/streams';
import { z } from 'zod';

/** A value a parser of @pipe/streams takes, kept parsed; its error message is the setting's problem. */
const parsed = <T>(parse: (text: string) => T) =>
  z.string().transform((value, ctx): T => {
    try {
      return parse(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

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

/** The aggregator's settings (every flag of `run` but --give-up-after), then the connection ones. */
export const AGGREGATOR_SETTINGS = {
  group: setting({
    flag: '--group <name>',
    env: 'AGGREGATOR_GROUP',
    help: 'consumer group',
    schema: pipeName().default('aggregator'),
  }),
  /** Hand the averages from the group that counts them to this one (see ownership.ts). */
  takeOver: setting({
    flag: '--take-over',
    help: 'hand the averages to --group from the group that counts them now (stop its aggregators first)',
    schema: z.boolean().default(false),
  }),
  consumer: setting({
    flag: '--consumer <name>',
    env: 'AGGREGATOR_CONSUMER',
    help: 'consumer name',
    schema: pipeName().default(`${hostname()}-${process.pid}`),
    shownDefault: 'host-pid',
  }),
  /** Allowed lateness of event time after an hour ends before it is published. */
  grace: durationSetting(
    '--grace',
    'AGGREGATOR_GRACE',
    'allowed event-time lateness after an hour ends',
    '5s',
  ),
  /**
   * When the group has been caught up and quiet for this long (wall clock), close the open hours that
   * ended at least this long and the grace ago: a quiet spell never overrides the grace.
   */
  idleClose: durationSetting(
    '--idle-close',
    'AGGREGATOR_IDLE_CLOSE',
    'after this long caught up with no new reading, publish the open hours whose end is at least this long and --grace ago on the clock',
    '60s',
  ),
  /**
   * How far ahead of this machine's clock stream time may run. A reading stamped further ahead is
   * still counted, but cannot declare the running hour over (a device with a fast clock would
   * otherwise close hours before the other devices' readings arrive). The demo's accelerated clock
   * raises it.
   */
  maxAhead: durationSetting(
    '--max-ahead',
    'AGGREGATOR_MAX_AHEAD',
    'how far ahead of the clock stream time may run',
    '0s',
  ),
  keepHours: setting({
    flag: '--keep-hours <n>',
    env: 'AGGREGATOR_KEEP_HOURS',
    help: 'hourly averages kept (XADD MAXLEN ~)',
    schema: positiveInt().default(120),
  }),
  /** Retired: alerts are rules of pipe-alerter (duration, hysteresis, no data, exactly once). */
  alertAbove: setting({
    flag: '--alert-above <tempF>',
    env: 'AGGREGATOR_ALERT_ABOVE',
    help: 'retired: write an alert rule for pipe-alerter instead (apps/alerter/README.md)',
    schema: z
      .unknown()
      .refine(
        (given) => given === undefined,
        'retired: alerts are rules of pipe-alerter now; write `rules: [{name: hot, above: <tempF>}]` to a rules file and run `pipe-alerter run --rules <file>` (apps/alerter/README.md)',
      )
      .optional(),
  }),
  drain: setting({
    flag: '--drain',
    help: 'process everything present, publish every hour including the last, exit 0',
    schema: z.boolean().default(false),
  }),
  /**
   * Entries per partition and read. Not more: ioredis builds a reply of thousands of entries over several
   * socket reads, and what it has built survives into the old generation. With 1000, a 1M-reading drain
   * spent twice as long collecting garbage (1.2 s against 0.8 s at 500) and took about 6% longer.
   */
  count: setting({
    flag: '--count <n>',
    env: 'AGGREGATOR_BATCH',
    help: 'entries per partition and read',
    schema: positiveInt().max(10_000).default(500),
  }),
  blockMs: durationSetting('--block-ms', undefined, 'blocking read timeout', '1s'),
  /** How often the consumer re-reads its own pending entries (entries the reaper claimed for it). */
  pendingCheck: durationSetting(
    '--pending-check',
    undefined,
    'how often to re-read own pending entries, e.g. claimed by the reaper',
    '2s',
  ),
  /**
   * With drain, as the reaper's: a consumer of the group not seen (XINFO CONSUMERS idle) for --min-idle
   * is dead, and its pending entries, once idle this long too, may be adopted (see dead-consumers.ts);
   * adopted entries delivered --max-deliveries times are dead-lettered. A working consumer shows up
   * every few seconds (--pending-check).
   */
  ...claimPolicySettings(
    'AGGREGATOR',
    {
      minIdle:
        "with --drain: a consumer of the group not seen for this long is dead (as the reaper's --min-idle), and its pending entries (idle as long) may be adopted",
      maxDeliveries:
        'with --drain: adopted entries delivered this often go to the dead-letter stream, as the reaper does',
    },
    (ms) => ms.refine((n) => n > 0, 'must be more than 0'),
  ),
  /**
   * With drain: how long to wait, once a dead consumer's pending entries hold the drain up, before
   * claiming them to this consumer and counting them; `off`: never, exit 3 after --give-up-after.
   */
  adoptAfter: setting({
    flag: '--adopt-after <duration|off>',
    env: 'AGGREGATOR_ADOPT_AFTER',
    help: "with --drain: while a dead consumer's pending entries hold the drain up (warned every 5s), wait this long, then claim them to this consumer and count them; off: exit 3 after --give-up-after instead",
    schema: durationOrOff().prefault('30s'),
  }),
  /**
   * The window sizes closed and published (#16): `1h` alone is the default and today's pipeline, bit
   * for bit; other sizes go to `temps:averages:<size>`. Recorded per UTC day (windows-layout.ts).
   */
  windows: setting({
    flag: '--windows <sizes>',
    env: 'AGGREGATOR_WINDOWS',
    help: 'window sizes to publish, e.g. 1m,1h,1d (1h always among them; others go to <prefix>:averages:<size>)',
    schema: parsed((text) => WindowLayout.parse(text)).prefault('1h'),
  }),
  /**
   * Every device's own result of every window size (#16), in `{<prefix>:device:<device>}:<size>`;
   * recorded with the sizes (`1m,1h,1d+device`), so every instance agrees.
   */
  perDevice: setting({
    flag: '--per-device',
    env: 'AGGREGATOR_PER_DEVICE',
    help: "also publish each device's own result of every window size, to {<prefix>:device:<device>}:<size>",
    schema: onOff(),
  }),
  keep: setting({
    flag: '--keep <size=duration,...>',
    env: 'AGGREGATOR_KEEP',
    help: 'how long each size is kept, e.g. 1m=12h,1h=30d,1d=400d (default 720 windows, at most 400d; temps:averages keeps --keep-hours, the per-device 1h tier --keep 1h)',
    schema: parsed(parseKeepEntries).prefault(''),
    shownDefault: '720 windows of each size',
  }),
  changeWindows: setting({
    flag: '--change-windows',
    help: 'count with --windows from the next UTC midnight although the pipeline counts with other windows (stop its aggregators first)',
    schema: z.boolean().default(false),
  }),
  ...CONNECTION_SETTINGS,
};

/** What an Aggregator is built from (tests parse it too: `aggregatorConfigSchema.parse({ ... })`). */
export const aggregatorConfigSchema = settingsSchema(AGGREGATOR_SETTINGS);
export type AggregatorConfig = z.infer<typeof aggregatorConfigSchema>;

/** `pipe-aggregator run`: --give-up-after (a drain's) first, then the aggregator's settings. */
export const runConfig = new CommandConfig({
  giveUpAfter: giveUpAfter('with --drain: '),
  ...AGGREGATOR_SETTINGS,
});
