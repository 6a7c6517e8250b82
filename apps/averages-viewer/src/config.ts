import { connectionSchema, GIVE_UP_ENV, giveUpShape, pipeName } from '@pipe/service';
import { z } from 'zod';
import { HostAllowList } from './host-allow-list.js';
import { parseTimeBound, TIME_BOUND_EXPECTED } from './time-bound.js';

// Part of the key of the viewer's position (PipelineKeys.viewerPosition): short.
const viewerName = pipeName(64).default('default');

const timeBound = z.string().transform((text, ctx) => {
  const ms = parseTimeBound(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not ${TIME_BOUND_EXPECTED}: ${text}` });
    return z.NEVER;
  }
  return ms;
});

/** `pipe-viewer tail`: flags and VIEWER_NAME over the connection settings every service shares. */
export const tailSchema = connectionSchema
  .extend({
    last: z.coerce.number().int().nonnegative().optional(),
    from: timeBound.optional(),
    follow: z.boolean().default(false),
    json: z.boolean().default(false),
    name: viewerName,
    // Without --follow, tail is a one-shot command: it gives up on an unreachable Redis (exit 3).
    ...giveUpShape,
    // An interactive command: its stderr is for people; info-level JSON lines only on request.
    logLevel: connectionSchema.shape.logLevel.unwrap().default('warn'),
  })
  .refine((config) => config.last === undefined || config.from === undefined, {
    message: '--last and --from exclude each other',
    path: ['last'],
  });
export type TailConfig = z.infer<typeof tailSchema>;

/** Env variables of tail's own settings (the connection ones come from CONNECTION_FLAGS). */
export const TAIL_ENV = {
  last: undefined,
  from: undefined,
  follow: undefined,
  json: undefined,
  name: 'VIEWER_NAME',
  ...GIVE_UP_ENV,
};

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
export const serveSchema = connectionSchema.extend({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  allowedHosts: allowedHosts.optional(),
});
export type ServeConfig = z.infer<typeof serveSchema>;

export const SERVE_ENV = { port: 'VIEWER_PORT', host: 'VIEWER_HOST', allowedHosts: 'VIEWER_ALLOWED_HOSTS' };
