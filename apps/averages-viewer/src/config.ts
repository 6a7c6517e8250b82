import { CommandConfig, CONNECTION_SETTINGS, giveUpAfter, logLevel, pipeName, setting } from '@pipe/service';
import { DEVICE_PATTERN, HOUR_WINDOW, parseWindowSize } from '@pipe/streams';
import { z } from 'zod';
import { HostAllowList } from './host-allow-list.js';
import { parseTimeBound, TIME_BOUND_EXPECTED } from './time-bound.js';

const timeBound = z.string().transform((text, ctx) => {
  const ms = parseTimeBound(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not ${TIME_BOUND_EXPECTED}: ${text}` });
    return z.NEVER;
  }
  return ms;
});

const windowSize = z.string().transform((text, ctx) => {
  try {
    return parseWindowSize(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** `pipe-viewer tail`: its own settings, then the connection settings every service shares. */
export const tailConfig = new CommandConfig(
  {
    // Without --follow, tail is a one-shot command: it gives up on an unreachable Redis (exit 3).
    giveUpAfter: giveUpAfter('without --follow: '),
    last: setting({
      flag: '--last <n>',
      help: 'start with the newest N averages instead of the saved position',
      schema: z.coerce.number().int().nonnegative().optional(),
    }),
    from: setting({
      flag: '--from <time>',
      help: 'start with the hours from this ISO 8601 time (UTC unless a zone is given) or epoch ms',
      schema: timeBound.optional(),
    }),
    follow: setting({
      flag: '--follow',
      help: 'keep printing new averages as they are written',
      schema: z.boolean().default(false),
    }),
    json: setting({
      flag: '--json',
      help: 'print one JSON object per line (full precision) instead of sentences',
      schema: z.boolean().default(false),
    }),
    device: setting({
      flag: '--device <id>',
      help: "show this device's own windows (aggregator --per-device) instead of the fleet's",
      schema: z.string().regex(DEVICE_PATTERN, 'a device id: 1-64 of A-Z a-z 0-9 _ . : -').optional(),
    }),
    resolution: setting({
      flag: '--resolution <size>',
      help: 'window size to show: 1m, 1h, 1d (any size the aggregator publishes with --windows)',
      schema: windowSize.default(HOUR_WINDOW),
      shownDefault: '1h',
    }),
    // Part of the key of the viewer's position (PipelineKeys.viewerPosition): short.
    name: setting({
      flag: '--name <name>',
      env: 'VIEWER_NAME',
      help: 'viewer name whose position is kept in Redis',
      schema: pipeName(64).default('default'),
      shownDefault: '"default"',
    }),
    ...CONNECTION_SETTINGS,
    // An interactive command: its stderr is for people; info-level JSON lines only on request.
    logLevel: logLevel('warn'),
  },
  (schema) =>
    schema.refine((config) => config.last === undefined || config.from === undefined, {
      message: '--last and --from exclude each other',
      path: ['last'],
    }),
);
export const tailSchema = tailConfig.schema;
export type TailConfig = z.infer<typeof tailSchema>;

/** `host,host:port,…`; absent, the server allows its bind address and the loopback names. */
const allowedHosts = z.string().transform((text, ctx) => {
  try {
    return HostAllowList.parse(text.split(',').filter((entry) => entry.trim() !== ''));
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** `pipe-viewer serve`: where the dashboard listens, and for which Host names it answers. */
export const serveConfig = new CommandConfig({
  port: setting({
    flag: '--port <port>',
    env: 'VIEWER_PORT',
    help: 'HTTP port',
    schema: z.coerce.number().int().min(0).max(65535).default(8080),
  }),
  host: setting({
    flag: '--host <host>',
    env: 'VIEWER_HOST',
    help: 'address to listen on',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  allowedHosts: setting({
    flag: '--allowed-hosts <list>',
    env: 'VIEWER_ALLOWED_HOSTS',
    help: 'Host header values to answer, host or host:port,... (default: the --host address, localhost, 127.0.0.1 and [::1] with --port)',
    schema: allowedHosts.optional(),
  }),
  ...CONNECTION_SETTINGS,
});
export const serveSchema = serveConfig.schema;
export type ServeConfig = z.infer<typeof serveSchema>;
