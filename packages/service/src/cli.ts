import { type Command, CommanderError } from 'commander';
import type { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { serializeError } from './error-serializer.js';
import { CONNECTION_FLAGS, connectionProblems } from './schemas.js';

/** Adds the connection flags (with their env variables named in --help) to a command. */
export function withConnectionFlags(command: Command): Command {
  for (const [flag, description, env] of CONNECTION_FLAGS)
    command.option(flag, `${description} [env ${env}]`);
  return command;
}

/** The env variable of --give-up-after (the producer's flag of the same name reads it too). */
export const GIVE_UP_ENV = { giveUpAfter: 'GIVE_UP_AFTER' } as const;

/** Adds --give-up-after (see giveUpShape); `when` prefixes the help, e.g. `with --drain: `. */
export function withGiveUpFlag(command: Command, when = ''): Command {
  return command.option(
    '--give-up-after <duration>',
    `${when}exit 3 when Redis stays unreachable this long, at once when it refuses the credentials or TLS (default 10s) [env ${GIVE_UP_ENV.giveUpAfter}]`,
  );
}

/**
 * Reads a command's flags and the environment into `schema`: the connection flags by their env
 * names, plus `extra` fields (flag name → env variable or undefined).
 */
export function configFrom<S extends z.ZodType>(
  schema: S,
  flags: Record<string, unknown>,
  extra: Record<string, string | undefined> = {},
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const sources: Record<string, { flag?: unknown; env?: string }> = {};
  for (const [, , envName, field] of CONNECTION_FLAGS)
    sources[field] = { flag: flags[field], env: env[envName] };
  for (const [field, envName] of Object.entries(extra)) {
    sources[field] = { flag: flags[field], env: envName ? env[envName] : undefined };
  }
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
    // Every problem in one list: the fields' own and the ones between them.
    if (err instanceof ConfigError && together.length > 0)
      throw new ConfigError([...err.problems, ...together]);
    throw err;
  }
  if (together.length > 0) throw new ConfigError(together);
  return config;
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
