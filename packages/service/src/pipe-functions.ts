import { connect, loadLuaFunctions, luaFunction } from '@pipe/streams';
import { connectionOptions } from './connection.js';
import type { ConnectionConfig } from './schemas.js';

/**
 * The admin step of a deployment with per-service ACL users (`pnpm functions`): loads pipe's Lua files
 * as Redis 7 functions on every master, so that no service user needs EVAL or FUNCTION LOAD. Returns
 * the functions' names.
 */
export async function loadPipeFunctions(config: ConnectionConfig, files: URL[]): Promise<string[]> {
  const functions = files.map(luaFunction);
  const redis = connect(connectionOptions(config, 'pipe-functions'));
  try {
    await loadLuaFunctions(redis, functions);
    return functions.map((f) => f.name);
  } finally {
    redis.disconnect();
  }
}
