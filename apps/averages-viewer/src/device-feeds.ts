import type { ServerResponse } from 'node:http';
import type { Logger, RedisClient, StreamEntry } from '@pipe/streams';
import { AveragesFeed, NEWEST } from './averages-feed.js';
import { type ServerEvent, type SseClient, SseHub } from './sse-hub.js';

/** One device series being followed: its blocking read and the pages that watch it. */
interface Followed {
  hub: SseHub;
  feed: AveragesFeed;
  run: Promise<void>;
}

export interface DeviceFeedsOptions {
  redis: RedisClient;
  heartbeatMs: number;
  /** Device series followed at once (each holds a blocking connection); more are refused (503). */
  maxFollowed: number;
  logger: Logger;
}

/**
 * The event streams of single device series (`/api/devices/<device>/stream`). Devices have a stream
 * each, so no one read can follow a fleet of them (on a cluster they are in every slot): a series is
 * followed by its own blocking XREAD while at least one page watches it, shared by all those pages,
 * and stopped when the last one leaves.
 */
export class DeviceFeeds {
  private readonly followed = new Map<string, Followed>();

  constructor(private readonly o: DeviceFeedsOptions) {}

  /** Device series followed now. */
  get size(): number {
    return this.followed.size;
  }

  /** Pages watching a device series now. */
  get clients(): number {
    let n = 0;
    for (const { hub } of this.followed.values()) n += hub.size;
    return n;
  }

  /**
   * Opens an event stream of `key` on `res`; undefined (nothing written) when maxFollowed series are
   * followed already. The client holds live events until released (after its catch-up).
   */
  add(
    key: string,
    toEvents: (entries: StreamEntry[]) => ServerEvent[],
    res: ServerResponse,
    after: string | undefined,
  ): SseClient | undefined {
    let followed = this.followed.get(key);
    if (!followed) {
      if (this.followed.size >= this.o.maxFollowed) return undefined;
      const hub = new SseHub(this.o.heartbeatMs, 1000);
      const feed = new AveragesFeed({
        redis: this.o.redis,
        key,
        // The first page's position: what it missed is read by its catch-up and by the feed, and
        // SseClient drops what it was sent already.
        after: after ?? NEWEST,
        onEntries: (entries) => {
          for (const event of toEvents(entries)) hub.broadcast(event);
        },
        logger: this.o.logger,
      });
      followed = { hub, feed, run: feed.run() };
      this.followed.set(key, followed);
    }
    const client = followed.hub.add(res, after);
    const current = followed;
    res.on('close', () => {
      if (current.hub.size > 0 || this.followed.get(key) !== current) return;
      this.followed.delete(key);
      void this.end(current);
    });
    return client;
  }

  /** An event for every page of every series (Redis down or back). */
  broadcast(event: ServerEvent): void {
    for (const { hub } of this.followed.values()) hub.broadcast(event);
  }

  async stop(): Promise<void> {
    const all = [...this.followed.values()];
    this.followed.clear();
    await Promise.all(all.map((f) => this.end(f)));
  }

  private async end({ hub, feed, run }: Followed): Promise<void> {
    hub.close();
    await feed.stop();
    await run.catch(() => {});
  }
}
