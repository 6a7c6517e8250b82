import { sleep } from '@pipe/testkit';

/** The JSON API of a running dashboard, in-process or a `pipe-viewer serve` process, by its base URL. */
export class DashboardClient {
  constructor(readonly base: string) {}

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
}
