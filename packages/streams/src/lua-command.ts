import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipeError } from './errors.js';
import { type RedisClient, scanTargets, whenReady } from './redis.js';

/** Runs a defined Lua script: keys first, then arguments. */
export type LuaCommand = (keys: string[], args: (string | number | Buffer)[]) => Promise<unknown>;

/** One of pipe's Lua files as a Redis 7 function library: its own library, named by file and content. */
export interface LuaFunction {
  /** `pipe_<file>_<12 hex of its SHA-1>`: a changed script is a new function, never a stale one. */
  name: string;
  /** The FUNCTION LOAD text: the file's body as the function's callback (KEYS, ARGV are its parameters). */
  library: string;
}

/** The function a Lua file (`<name>-<numKeys>.lua`, starting with `#!lua`, its includes expanded) becomes. */
export function luaFunction(file: URL): LuaFunction {
  const source = withIncludes(readFileSync(file, 'utf8'), file);
  const body = source.startsWith('#!') ? source.slice(source.indexOf('\n') + 1) : source;
  const stem = basename(fileURLToPath(file), '.lua').replace(/[^A-Za-z0-9]/g, '_');
  const name = `pipe_${stem}_${createHash('sha1').update(body).digest('hex').slice(0, 12)}`;
  const library = `#!lua name=${name}\nredis.register_function('${name}', function(KEYS, ARGV)\n${body}\nend)\n`;
  return { name, library };
}

/**
 * Each `--#include <file>` line replaced by that file (a path relative to the script): Lua two scripts
 * share, since each script is a function library of its own. The name's hash covers what is included.
 */
function withIncludes(source: string, file: URL): string {
  return source.replace(/^--#include (\S+)[ \t]*$/gm, (_, name: string) =>
    readFileSync(new URL(name, file), 'utf8').trimEnd(),
  );
}

/**
 * Loads functions on every master (functions are per node; a cluster does not spread them). A library
 * that is there already is left alone: its name says its content.
 */
export async function loadLuaFunctions(redis: RedisClient, functions: LuaFunction[]): Promise<void> {
  await whenReady(redis);
  for (const node of scanTargets(redis)) {
    for (const { library } of functions) {
      try {
        await node.call('FUNCTION', 'LOAD', library);
      } catch (err) {
        if (!/already exists/i.test((err as Error).message)) throw err;
      }
    }
  }
}

/** Why a call found no function: this server (restarted without persistence, a new node) lacks it. */
const NOT_LOADED = /Function not found/i;
/** A user without FUNCTION LOAD: an admin loads the functions (`pnpm functions`). */
const NOT_PERMITTED = /NOPERM/;

/**
 * A caller for a Lua file's function (FCALL). Scripts run as Redis 7 functions rather than EVAL so that
 * the services' ACL users need no EVAL: a leaked credential cannot run arbitrary code.
 *
 * The first call loads the function (a no-op when it is there) and every call waits for that, so calls
 * sent in order reach Redis in order: a call that found the function missing and was resent after
 * loading it could land after a later call. A user without FUNCTION LOAD skips the load: its admin
 * loaded them (`pnpm functions`). When a server loses the function later (restarted without
 * persistence), the call fails with a retryable error after loading it again, so the caller's retry
 * policy, which knows its ordering, sends it again.
 *
 * `buffers`: bulk replies come as Buffers, for a script that answers binary data (UTF-8 decoding would
 * mangle it).
 */
export function defineLuaCommand(
  redis: RedisClient,
  _name: string,
  file: URL,
  { buffers = false }: { buffers?: boolean } = {},
): LuaCommand {
  const fn = luaFunction(file);
  let mayLoad = true;
  let loaded: Promise<void> | undefined;
  const load = () => {
    loaded ??= loadLuaFunctions(redis, [fn]).catch((err: Error) => {
      if (NOT_PERMITTED.test(err.message)) mayLoad = false;
      else loaded = undefined; // Redis unreachable: the next call tries again
      if (mayLoad) throw err;
    });
    return loaded;
  };
  return async (keys, args) => {
    await load();
    try {
      const call = buffers ? redis.callBuffer.bind(redis) : redis.call.bind(redis);
      return await call('FCALL', fn.name, keys.length, ...keys, ...args);
    } catch (err) {
      if (!NOT_LOADED.test((err as Error).message)) throw err;
      if (!mayLoad) {
        throw new PipeError(
          `Redis function ${fn.name} is not loaded and this user may not load it: ` +
            "load pipe's functions as an admin (pnpm functions --redis-url <admin url>)",
          'FUNCTIONS_NOT_LOADED',
          false,
          { cause: err },
        );
      }
      loaded = undefined;
      await load();
      throw new PipeError(`Redis had lost function ${fn.name}; loaded it again`, 'FUNCTION_RELOADED', true, {
        cause: err,
      });
    }
  };
}
