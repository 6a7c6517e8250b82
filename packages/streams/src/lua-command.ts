import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.js';

/** Runs a defined Lua script: keys first, then arguments. */
export type LuaCommand = (keys: string[], args: (string | number | Buffer)[]) => Promise<unknown>;

const defined = new WeakMap<RedisClient, Set<string>>();

/**
 * Registers a Lua file (`<name>-<numKeys>.lua`, next to the compiled module) as an ioredis command on
 * `redis` once, and returns a caller for it. ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT,
 * per node on a cluster, so a restarted server or a new cluster node needs nothing from us.
 */
export function defineLuaCommand(redis: RedisClient, name: string, file: URL): LuaCommand {
  const names = defined.get(redis) ?? new Set<string>();
  defined.set(redis, names);
  if (!names.has(name)) {
    redis.defineCommand(name, { lua: readFileSync(file, 'utf8') });
    names.add(name);
  }
  const command = (
    redis as unknown as Record<string, (...a: (string | number | Buffer)[]) => Promise<unknown>>
  )[name]!;
  return (keys, args) => command.call(redis, keys.length, ...keys, ...args);
}
