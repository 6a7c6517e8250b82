import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export type AppName = 'producer' | 'aggregator' | 'averages-viewer' | 'reaper';

/** The built executable of an app, found through the workspace dependency. */
export function appMain(app: AppName): string {
  return join(dirname(require.resolve(`@pipe/${app}/package.json`)), 'dist', 'main.js');
}

export interface AppRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an app's command to completion as a real process. */
export function runApp(app: AppName, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<AppRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [appMain(app), ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
