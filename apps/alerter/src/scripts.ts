import { defineLuaCommand, type LuaCommand, type RedisClient } from '@pipe/streams';

const lua = (file: string) => new URL(`./lua/${file}`, import.meta.url);

/** The alerter's Lua scripts (see each file's header). */
export interface AlerterScripts {
  /** commit-batch-5.lua: → 1 committed, 0 the position had moved (nothing written). */
  commitBatch: LuaCommand;
  /** check-silence-3.lua: → fired. */
  checkSilence: LuaCommand;
  /** prune-positions-1.lua: → positions deleted. */
  prunePositions: LuaCommand;
}

export function defineAlerterScripts(redis: RedisClient): AlerterScripts {
  return {
    commitBatch: defineLuaCommand(redis, 'pipeCommitBatch', lua('commit-batch-5.lua')),
    checkSilence: defineLuaCommand(redis, 'pipeCheckSilence', lua('check-silence-3.lua')),
    prunePositions: defineLuaCommand(redis, 'pipePrunePositions', lua('prune-positions-1.lua')),
  };
}
