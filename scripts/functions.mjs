#!/usr/bin/env node
// `pnpm functions [--redis-url <admin url> | --cluster-nodes host:port,...]` (and the other connection
// flags): loads every Lua script of pipe as a Redis 7 function on every master, once per deploy. The
// services call them with FCALL, so their ACL users need neither EVAL nor FUNCTION LOAD (see `pnpm acl`).
// A development server's default user needs none of this: a service loads a missing function itself.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configFrom, connectionSchema, exitOnStartupError, loadPipeFunctions } from '@pipe/service';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(
    'usage: pnpm functions [--redis-url <admin url> | --cluster-nodes host:port,...] [--tls-ca <file> ...]',
  );
  process.exit(0);
}
/** `--redis-url x` → { redisUrl: 'x' }: the connection flags, named as every service names them. */
const flags = {};
for (let i = 0; i < args.length; i += 2) {
  const name = args[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  flags[name] = args[i + 1];
}

try {
  const config = configFrom(connectionSchema, flags);
  // Every built Lua file of the workspace: the library's and each app's.
  const dirs = ['packages/streams', ...readdirSync(join(root, 'apps')).map((a) => `apps/${a}`)].map((d) =>
    join(root, d, 'dist/lua'),
  );
  const files = dirs
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.lua'))
        .map((f) => pathToFileURL(join(dir, f))),
    );
  for (const name of await loadPipeFunctions(config, files)) console.log(`loaded ${name}`);
} catch (err) {
  exitOnStartupError(err);
}
