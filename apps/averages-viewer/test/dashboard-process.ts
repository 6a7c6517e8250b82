import { ViewerProcess } from '@pipe/fixtures';
import { freePort, sleep } from '@pipe/testkit';
import { DashboardClient } from './dashboard-client.js';

/**
 * `pipe-viewer serve` on a free port, ready once /api/status answers: for tests whose subject is the
 * process (flags, env, signals); the dashboard itself is tested in-process (running-dashboard.ts).
 */
export class DashboardProcess extends DashboardClient {
  private constructor(
    readonly viewer: ViewerProcess,
    base: string,
  ) {
    super(base);
  }

  static async start(
    redisUrl: string,
    prefix: string,
    extra: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ): Promise<DashboardProcess> {
    const port = await freePort();
    const viewer = ViewerProcess.start(
      ['serve', '--redis-url', redisUrl, '--prefix', prefix, '--port', String(port), ...extra],
      env,
    );
    const dashboard = new DashboardProcess(viewer, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(`${dashboard.base}/api/status`)).ok) return dashboard;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline || viewer.child.exitCode !== null) {
        await viewer.stop();
        throw new Error(
          `serve did not start: ${viewer.lines('stdout').concat(viewer.lines('stderr')).join('\n')}`,
        );
      }
      await sleep(50);
    }
  }

  stop(): Promise<number | null> {
    return this.viewer.stop();
  }
}
