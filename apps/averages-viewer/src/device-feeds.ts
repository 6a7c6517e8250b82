import type { ServerResponse } from 'node:http';
import { type Logger, pause, type RedisClient, Stream, type StreamEntry, unlessStopped } from '@pipe/streams';
import { type ServerEvent, type SseClient, SseHub } from './sse-hub.js';

/** One device series being followed: the pages that watch it and the last entry they were sent. */
interface Followed {
  hub: SseHub;
  /** The last entry delivered; undefined until the first poll reads the newest (a page with no `after`). */
  cursor: string | undefined;
  toEvents: (entries: StreamEntry[]) => ServerEvent[];
}

export interface DeviceFeedsOptions {
  redis: RedisClient;
  heartbeatMs: number;
  /** How often each followed series is read for new windows (a device window comes once a minute at most). */
  pollMs: number;
  /** Device series followed at once; more are refused (503). */
  maxFollowed: number;
  logger: Logger;
}

/** Entries read per followed series and poll; a page that fell further behind catches up over polls. */
const PAGE = 200;

/**
 * The event streams of single device series (`/api/devices/<device>/stream`). A device has a stream per
 * size (a fleet of 10,000 has 30,000, in every slot of a cluster), so no one blocking read can follow
 * them, and a blocking connection per followed series would cost a connection per page. Instead one
 * loop reads every followed series with a non-blocking XRANGE after its cursor every `pollMs`, on the
 * server's own client, and pushes what is new to the pages that watch it; a series no page watches
 * is dropped.
 */
export class DeviceFeeds {
  private readonly followed = new Map<string, Followed>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

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
      // From the first page's position: its catch-up and the poll may both send an entry; SseClient
      // drops what it was sent already.
      followed = { hub: new SseHub(this.o.heartbeatMs, 1000), cursor: after, toEvents };
      this.followed.set(key, followed);
    }
    const client = followed.hub.add(res, after);
    const current = followed;
    res.on('close', () => {
      if (current.hub.size > 0 || this.followed.get(key) !== current) return;
      this.followed.delete(key);
      current.hub.close();
    });
    this.loop ??= this.run();
    return client;
  }

  /** An event for every page of every series (Redis down or back). */
  broadcast(event: ServerEvent): void {
    for (const { hub } of this.followed.values()) hub.broadcast(event);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const { hub } of this.followed.values()) hub.close();
    this.followed.clear();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await Promise.all([...this.followed].map(([key, followed]) => this.poll(key, followed)));
      await pause(this.o.pollMs, this.stopping.signal);
    }
  }

  private async poll(key: string, followed: Followed): Promise<void> {
    const stream = new Stream(this.o.redis, key);
    try {
      if (followed.cursor === undefined) {
        const newest = await unlessStopped(stream.revrange({ count: 1 }), this.stopping.signal);
        followed.cursor = newest?.[0]?.id ?? '0-0';
        return;
      }
      const entries = await unlessStopped(
        stream.range({ start: `(${followed.cursor}`, count: PAGE }),
        this.stopping.signal,
      );
      if (!entries || entries.length === 0) return;
      followed.cursor = entries[entries.length - 1]!.id;
      for (const event of followed.toEvents(entries)) followed.hub.broadcast(event);
    } catch (err) {
      // An outage is reported once by the server's own health watch; the next poll tries again.
      this.o.logger.debug({ err, key }, 'device series poll failed');
    }
  }
}
