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

/**
 * `pipe-producer backfill` of the `hours` whole hours before the current one: 2 devices, one
 * reading a minute each (120 readings an hour). Resolves with the hour the backfill ends at.
 */
export async function backfillLastHours(hours: number, env: NodeJS.ProcessEnv): Promise<number> {
  const to = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const from = String(to - hours * 3_600_000);
  const args = ['backfill', '--from', from, '--to', String(to), '--devices', '2', '--interval', '1m'];
  const produced = await runApp('producer', args, env);
  if (produced.code !== 0) throw new Error(`backfill exited ${produced.code}: ${produced.stderr}`);
  return to;
}
