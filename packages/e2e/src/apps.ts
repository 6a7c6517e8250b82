import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type ProcessExit, runNode } from '@pipe/testkit';

const require = createRequire(import.meta.url);

export type AppName = 'producer' | 'aggregator' | 'averages-viewer' | 'reaper';

/** The built executable of an app, found through the workspace dependency. */
export function appMain(app: AppName): string {
  return join(dirname(require.resolve(`@pipe/${app}/package.json`)), 'dist', 'main.js');
}

/** Runs an app's command to completion as a real process. */
export function runApp(
  app: AppName,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<ProcessExit> {
  return runNode(appMain(app), args, { env: { LOG_LEVEL: 'warn', ...env }, timeoutMs });
}
