import { type Command, CommanderError } from 'commander';
import type { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { serializeError } from './error-serializer.js';
import { CONNECTION_SETTINGS, connectionProblems } from './schemas.js';
import {
  addSettings,
  type Settings,
  type SettingsShape,
  settingSources,
  settingsSchema,
} from './settings.js';

/**
 * Reads a command's flags and the environment into `schema`: each of `settings` (the connection
 * settings unless given) from its flag, or else its env variable. Every problem is listed at once,
 * the fields' own and the ones between the connection settings.
 */
export function configFrom<S extends z.ZodType>(
  schema: S,
  flags: Record<string, unknown>,
  settings: Settings = CONNECTION_SETTINGS,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const sources = settingSources(settings, flags, env);
  const given = (field: string) => sources[field]?.flag ?? (sources[field]?.env || undefined);
  const together = connectionProblems({
    redisUrl: given('redisUrl'),
    clusterNodes: given('clusterNodes'),
    tlsCa: given('tlsCa'),
    tlsCert: given('tlsCert'),
    tlsKey: given('tlsKey'),
  });
  let config: z.infer<S>;
  try {
    config = loadConfig(schema, sources);
  } catch (err) {
    if (err instanceof ConfigError && together.length > 0)
      throw new ConfigError([...err.problems, ...together]);
    throw err;
  }
  if (together.length > 0) throw new ConfigError(together);
  return config;
}

/**
 * A command's config, declared once: `settings` make its options (addTo) and its schema; `refine`
 * adds what the fields say together (`--last and --from exclude each other`).
 */
export class CommandConfig<T extends Settings, S extends z.ZodType = z.ZodObject<SettingsShape<T>>> {
  readonly schema: S;

  constructor(
    readonly settings: T,
    refine: (schema: z.ZodObject<SettingsShape<T>>) => S = (schema) => schema as unknown as S,
  ) {
    this.schema = refine(settingsSchema(settings));
  }

  /** Adds one option per setting to `command`, in their order. */
  addTo(command: Command): Command {
    return addSettings(command, this.settings);
  }

  /** The validated config from flags over env; throws a ConfigError listing every problem. */
  read(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
    return configFrom(this.schema, flags, this.settings, env);
  }
}

/**
 * Prints a configuration or usage error the way operators expect and exits 1 (before connecting). Any
 * other error that ends a command goes through serializeError too (Node's own report would print the
 * arguments ioredis attaches to a failed AUTH: the password), and exits 1.
 */
export function exitOnStartupError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const safe = serializeError(err);
  const report =
    safe && typeof safe === 'object' && 'stack' in safe
      ? String(safe.stack)
      : String(safe ?? 'unknown error');
  process.stderr.write(`${report}\n`);
  process.exit(1);
}
