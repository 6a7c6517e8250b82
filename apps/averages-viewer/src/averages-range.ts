import { idFromMs, type RedisClient, Stream, type StreamEntry } from '@pipe/streams';

/**
 * Reads of the averages stream by position and by time. An average's ID is `<hour start ms>-0`, so a
 * time range is an ID range.
 */
export class AveragesRange {
  private readonly stream: Stream;

  constructor(redis: RedisClient, key: string) {
    this.stream = new Stream(redis, key);
  }

  /** Entries after `after` (exclusive), oldest first, a page at a time. */
  async *after(after: string, pageSize = 500): AsyncGenerator<StreamEntry[]> {
    let from = after;
    for (;;) {
      const page = await this.stream.range({ start: `(${from}`, count: pageSize });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      from = page[page.length - 1]!.id;
    }
  }

  /**
   * Averages of the hours starting in [fromMs, toMs], oldest first; when there are more than `limit`,
   * the newest `limit` of them (a chart wants the recent end).
   */
  async between(fromMs: number | undefined, toMs: number | undefined, limit: number): Promise<StreamEntry[]> {
    const start = fromMs === undefined ? '-' : idFromMs(fromMs);
    // A bare ms as the end of XRANGE means `<ms>-<largest sequence>`: the whole millisecond.
    const end = toMs === undefined ? '+' : String(Math.trunc(toMs));
    const newestFirst = await this.stream.revrange({ start: end, end: start, count: limit });
    return newestFirst.reverse();
  }

  /** The exclusive starting point that makes `after()` yield the newest `n` entries. */
  async beforeNewest(n: number): Promise<string> {
    const newest = await this.stream.revrange({ count: n + 1 });
    return newest.length === n + 1 ? newest[n]!.id : '0-0';
  }

  /** The newest entry's ID, or `0-0` for an empty stream: "only what comes from now on". */
  async newestId(): Promise<string> {
    const [newest] = await this.stream.revrange({ count: 1 });
    return newest?.id ?? '0-0';
  }

  length(): Promise<number> {
    return this.stream.length();
  }
}
