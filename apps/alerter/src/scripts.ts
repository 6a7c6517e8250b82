import { defineLuaCommand, type LuaCommand, type RedisClient } from '@pipe/streams';

const lua = (file: string) => new URL(`./lua/${file}`, import.meta.url);

/** The alerter's Lua scripts (see each file's header). */
export interface AlerterScripts {
  /** apply-readings-4.lua: → [applied, skipped, fired, resolved]. */
  applyReadings: LuaCommand;
  /** check-silence-3.lua: → fired. */
  checkSilence: LuaCommand;
}

export function defineAlerterScripts(redis: RedisClient): AlerterScripts {
  return {
    applyReadings: defineLuaCommand(redis, 'pipeApplyReadings', lua('apply-readings-4.lua')),
    checkSilence: defineLuaCommand(redis, 'pipeCheckSilence', lua('check-silence-3.lua')),
  };
}
