import { freePort, sleep } from '@pipe/testkit';
import { ViewerProcess } from './viewer-process.js';

/** `pipe-viewer serve` on a free port, ready once /api/status answers. */
export class DashboardProcess {
  private constructor(
    readonly viewer: ViewerProcess,
    readonly base: string,
  ) {}

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

  async json<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.base}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Polls `path` until `done` holds for its JSON, failing after `timeoutMs`. */
  async until<T>(path: string, done: (body: T, status: number) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      const { status, body } = await this.json<T>(path);
      last = { status, body };
      if (done(body, status)) return body;
      if (Date.now() > deadline)
        throw new Error(`${path} never matched; last answer ${JSON.stringify(last)}`);
      await sleep(100);
    }
  }

  stop(): Promise<number | null> {
    return this.viewer.stop();
  }
}
