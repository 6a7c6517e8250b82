import { PipeError } from '@pipe/streams';
import type { z } from 'zod';

/** Invalid configuration: every problem at once, so an operator fixes them in one go. */
export class ConfigError extends PipeError {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'INVALID_CONFIG');
  }
}

/**
 * Validates flags over env: `sources` maps each config field to its flag value and env value; a flag
 * wins over env. The schema gets raw strings (or flag values) and coerces them.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  sources: Record<string, { flag?: unknown; env?: string }>,
): z.infer<S> {
  const raw: Record<string, unknown> = {};
  for (const [field, { flag, env }] of Object.entries(sources)) {
    const value = flag ?? (env === '' ? undefined : env);
    if (value !== undefined) raw[field] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`),
  );
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `1s`, `5m`, `1h`, `2d` or a bare number of ms → ms; undefined when unparseable. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2] ?? 'ms']!;
}
