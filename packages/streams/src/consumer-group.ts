import { NoGroupError } from './errors.js';
import { isCluster, type RedisClient } from './redis.js';
import { pairs, type StreamEntry, toEntries } from './stream.js';

/** How often a read over several streams of a cluster looks again while it would block. */
const CLUSTER_POLL_MS = 100;

type RawEntry = [string, string[]];

/** Entries read from each stream, keyed by stream key (only streams that returned entries). */
export type GroupRead = Map<string, StreamEntry[]>;

export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

export interface PendingSummary {
  count: number;
  smallestId: string | null;
  largestId: string | null;
  consumers: { name: string; pending: number }[];
}

export interface AutoclaimResult {
  /** Cursor for the next call; `0-0` when the whole PEL was scanned. */
  next: string;
  entries: StreamEntry[];
  /**
   * Pending IDs of the scanned range whose entries no longer exist (deleted or trimmed), whatever their
   * idle time; Redis 7 drops them from the PEL as it reports them.
   */
  deleted: string[];
}

/** An XAUTOCLAIM page with `justId`: the IDs now pending with the claiming consumer. */
export interface AutoclaimIdsResult {
  /** Cursor for the next call; `0-0` when the whole PEL was scanned. */
  next: string;
  ids: string[];
  /** As in AutoclaimResult: pending IDs whose entries no longer exist, dropped from the PEL. */
  deleted: string[];
}

export interface AutoclaimOptions {
  /** Only entries pending at least this long (ms). */
  minIdle?: number;
  /** Where the scan of the PEL starts: `0-0`, or the `next` of the previous page. */
  start?: string;
  count?: number;
  /** Claim IDs only (XAUTOCLAIM JUSTID): delivery counts are left alone. */
  justId?: boolean;
}

export interface ClaimIdsResult {
  /** IDs now pending with the claiming consumer. */
  claimed: string[];
  /** IDs whose entries no longer exist (deleted or trimmed); Redis 7 dropped them from the PEL. */
  deleted: string[];
}

export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  lastDeliveredId: string;
  /** Redis 7: logical read counter; null when Redis cannot tell. */
  entriesRead: number | null;
  /** Redis 7: entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
}

export interface ConsumerInfo {
  name: string;
  pending: number;
  /** ms since the consumer's last interaction (read or claim) with the group. */
  idleMs: number;
}

export function isBusyGroup(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('BUSYGROUP');
}

export function isNoGroup(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOGROUP');
}

/**
 * A consumer group over one or many streams, read as one consumer (walrus's ConsumerGroup). Use
 * consumer(name) for another consumer of the same group.
 */
export class ConsumerGroup {
  constructor(
    readonly redis: RedisClient,
    readonly name: string,
    readonly streams: readonly string[],
    readonly consumerName: string = `${name}.c1`,
  ) {}

  /** The same group and streams as another consumer. */
  consumer(name: string): this {
    return this.derive(this.streams, name);
  }

  /** The same group and consumer on one of its streams (walrus's `cg.stream_a`), e.g. to read it alone. */
  forStream(stream: string): this {
    return this.derive([stream], this.consumerName);
  }

  /** A group like this one (same class) over other streams or as another consumer. */
  protected derive(streams: readonly string[], consumerName: string): this {
    const Self = this.constructor as new (
      redis: RedisClient,
      name: string,
      streams: readonly string[],
      consumerName: string,
    ) => this;
    return new Self(this.redis, this.name, streams, consumerName);
  }

  /**
   * Creates the group on every stream (MKSTREAM). A group that already exists (BUSYGROUP) counts as
   * success: returns, per stream, whether this call created it.
   */
  async create({
    id = '0',
    mkstream = true,
  }: {
    id?: string;
    mkstream?: boolean;
  } = {}): Promise<Record<string, boolean>> {
    const created: Record<string, boolean> = {};
    for (const stream of this.streams) {
      try {
        await this.redis.call('XGROUP', 'CREATE', stream, this.name, id, ...(mkstream ? ['MKSTREAM'] : []));
        created[stream] = true;
      } catch (err) {
        if (!isBusyGroup(err)) throw err;
        created[stream] = false;
      }
    }
    return created;
  }

  /** XGROUP CREATECONSUMER: registers this consumer without reading. */
  async createConsumer(stream: string): Promise<boolean> {
    return (
      ((await this.redis.call(
        'XGROUP',
        'CREATECONSUMER',
        stream,
        this.name,
        this.consumerName,
      )) as number) === 1
    );
  }

  /**
   * XREADGROUP across the streams. `id` is `>` for new entries or an ID (`0`) to re-read this
   * consumer's own pending entries after it; a record gives each stream its own ID. Streams in
   * different cluster slots are read one by one.
   */
  async read({
    count,
    block,
    id = '>',
    noAck = false,
  }: {
    count?: number;
    block?: number;
    id?: string | Readonly<Record<string, string>>;
    noAck?: boolean;
  } = {}): Promise<GroupRead> {
    const idOf = (stream: string) => (typeof id === 'string' ? id : (id[stream] ?? '>'));
    const head: (string | number)[] = ['GROUP', this.name, this.consumerName];
    if (count !== undefined) head.push('COUNT', count);
    if (block !== undefined) head.push('BLOCK', block);
    if (noAck) head.push('NOACK');
    const result: GroupRead = new Map();
    const collect = (reply: [string, RawEntry[]][] | null) => {
      for (const [stream, entries] of reply ?? []) {
        const list = toEntries(entries);
        if (list.length > 0 || idOf(stream) !== '>') result.set(stream, list);
      }
    };
    const readSome = (streams: readonly string[], blockArgs: (string | number)[]) =>
      this.redis
        .call('XREADGROUP', ...blockArgs, 'STREAMS', ...streams, ...streams.map(idOf))
        .then((r) => collect(r as [string, RawEntry[]][] | null));
    try {
      if (!isCluster(this.redis) || this.streams.length === 1) {
        await readSome(this.streams, head);
      } else {
        // A cluster refuses a multi-key read across slots, and ioredis keeps one connection per node,
        // on which blocking reads of several streams would wait one after another (k idle streams on
        // a master: k × block). So each stream is read without blocking, all in parallel, and again
        // every CLUSTER_POLL_MS until one has entries or `block` (0: for ever) runs out.
        const nonBlocking = head.filter((_, i) => head[i - 1] !== 'BLOCK' && head[i] !== 'BLOCK');
        const deadline =
          block === undefined ? 0 : block === 0 ? Number.POSITIVE_INFINITY : Date.now() + block;
        for (;;) {
          await Promise.all(this.streams.map((s) => readSome([s], nonBlocking)));
          const left = deadline - Date.now();
          if (result.size > 0 || left <= 0) break;
          await new Promise((r) => setTimeout(r, Math.min(CLUSTER_POLL_MS, left)));
        }
      }
    } catch (err) {
      if (isNoGroup(err)) throw new NoGroupError(this.streams.join(','), this.name, { cause: err });
      throw err;
    }
    return result;
  }

  /**
   * This consumer's own pending entries of `stream` after `after` (exclusive; `0` from the start), at
   * most `count`, with their fields, without counting a delivery: XPENDING for the IDs, then XRANGE of
   * each. XREADGROUP with an ID counts one delivery for every entry it returns, so re-reading a batch
   * that failed for Redis's sake (a failover, a refused write) that way makes a healthy entry look like
   * a poison one to whoever dead-letters after --max-deliveries. Nor does it reset the entries' idle
   * time. A pending entry deleted from the stream comes back without fields, as XREADGROUP returns it.
   */
  async readOwnPendingQuietly(
    stream: string,
    { after = '0', count = 100 }: { after?: string; count?: number } = {},
  ): Promise<StreamEntry[]> {
    const start = after === '0' || after === '0-0' ? '-' : `(${after}`;
    const ids = (await this.pending(stream, { start, count, consumer: this.consumerName })).map((p) => p.id);
    if (ids.length === 0) return [];
    // One stream, one cluster slot: a pipeline is one round trip on a cluster too.
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xrange(stream, id, id);
    const replies = (await pipeline.exec()) ?? [];
    return ids.map((id, i) => {
      const [err, reply] = replies[i] ?? [new Error('XRANGE got no reply'), null];
      if (err) throw err;
      const [entry] = (reply as RawEntry[] | null) ?? [];
      return { id, fields: entry?.[1] ?? [] };
    });
  }

  async ack(stream: string, ...ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (await this.redis.call('XACK', stream, this.name, ...ids)) as number;
  }

  /** XPENDING summary form for one stream. */
  async pendingSummary(stream: string): Promise<PendingSummary> {
    const [count, smallest, largest, consumers] = (await this.redis.call('XPENDING', stream, this.name)) as [
      number,
      string | null,
      string | null,
      [string, string][] | null,
    ];
    return {
      count,
      smallestId: smallest,
      largestId: largest,
      consumers: (consumers ?? []).map(([name, n]) => ({ name, pending: Number(n) })),
    };
  }

  /** XPENDING extended form: entries pending at least `idle` ms, optionally of one consumer. */
  async pending(
    stream: string,
    {
      start = '-',
      end = '+',
      count = 100,
      consumer,
      idle,
    }: { start?: string; end?: string; count?: number; consumer?: string; idle?: number } = {},
  ): Promise<PendingEntry[]> {
    const args: (string | number)[] = [stream, this.name];
    if (idle !== undefined) args.push('IDLE', idle);
    args.push(start, end, count);
    if (consumer !== undefined) args.push(consumer);
    const rows = (await this.redis.call('XPENDING', ...args)) as [string, string, number, number][];
    return rows.map(([id, consumerName, idleMs, deliveries]) => ({
      id,
      consumer: consumerName,
      idleMs,
      deliveries,
    }));
  }

  /** XCLAIM entries idle at least `minIdle` ms for this consumer; returns the entries now owned. */
  async claim(
    stream: string,
    ids: string[],
    { minIdle = 0 }: { minIdle?: number } = {},
  ): Promise<StreamEntry[]> {
    if (ids.length === 0) return [];
    const raw = (await this.redis.call(
      'XCLAIM',
      stream,
      this.name,
      this.consumerName,
      minIdle,
      ...ids,
    )) as (RawEntry | null)[];
    return toEntries(raw.filter((e): e is RawEntry => e !== null));
  }

  /**
   * XCLAIM … JUSTID of given IDs for this consumer, only those still idle at least `minIdle` ms (an
   * entry its owner re-read or acknowledged meanwhile stays put). JUSTID leaves delivery counts alone:
   * the claiming consumer's own read of its PEL is the delivery that counts. Redis 7 silently drops IDs
   * whose entries were deleted from the PEL; those are looked up (XRANGE) and returned as `deleted`, as
   * XAUTOCLAIM reports them. The reclaim protocol's claim step (reaper, and a drain adopting the entries
   * of a dead consumer).
   */
  async claimIds(
    stream: string,
    ids: string[],
    { minIdle = 0 }: { minIdle?: number } = {},
  ): Promise<ClaimIdsResult> {
    if (ids.length === 0) return { claimed: [], deleted: [] };
    const claimed = (await this.redis.call(
      'XCLAIM',
      stream,
      this.name,
      this.consumerName,
      minIdle,
      ...ids,
      'JUSTID',
    )) as string[];
    const taken = new Set(claimed);
    const deleted: string[] = [];
    for (const id of ids) {
      if (taken.has(id)) continue;
      const found = (await this.redis.call('XRANGE', stream, id, id, 'COUNT', 1)) as RawEntry[];
      if (found.length === 0) deleted.push(id);
    }
    return { claimed, deleted };
  }

  /**
   * XAUTOCLAIM one page for this consumer, with Redis 7's list of deleted IDs. With `justId` the reply
   * holds IDs instead of entries and the delivery counts stay as they were (JUSTID): the reclaim
   * protocol's bulk claim, where the consumer's own re-read of its PEL is the delivery that counts.
   */
  async autoclaim(stream: string, options?: AutoclaimOptions & { justId?: false }): Promise<AutoclaimResult>;
  async autoclaim(stream: string, options: AutoclaimOptions & { justId: true }): Promise<AutoclaimIdsResult>;
  async autoclaim(
    stream: string,
    { minIdle = 0, start = '0-0', count = 100, justId = false }: AutoclaimOptions = {},
  ): Promise<AutoclaimResult | AutoclaimIdsResult> {
    const [next, claimed, deleted] = (await this.redis.call(
      'XAUTOCLAIM',
      stream,
      this.name,
      this.consumerName,
      minIdle,
      start,
      'COUNT',
      count,
      ...(justId ? ['JUSTID'] : []),
    )) as [string, (RawEntry | null)[] | string[], string[] | undefined];
    if (justId) return { next, ids: claimed as string[], deleted: deleted ?? [] };
    return {
      next,
      entries: toEntries((claimed as (RawEntry | null)[]).filter((e): e is RawEntry => e !== null)),
      deleted: deleted ?? [],
    };
  }

  /** XGROUP SETID on every stream (or one): the next `>` read starts after `id` (`$` = only new). */
  async setId(id: string, stream?: string): Promise<void> {
    for (const s of stream ? [stream] : this.streams)
      await this.redis.call('XGROUP', 'SETID', s, this.name, id);
  }

  /** Re-reads every stream from the beginning (walrus's reset). */
  async reset(): Promise<void> {
    await this.setId('0');
  }

  /** XGROUP DESTROY on every stream; returns how many groups existed. */
  async destroy(): Promise<number> {
    let destroyed = 0;
    for (const s of this.streams)
      destroyed += (await this.redis.call('XGROUP', 'DESTROY', s, this.name)) as number;
    return destroyed;
  }

  /** XGROUP DELCONSUMER; returns the number of pending entries the consumer had (they are dropped). */
  async deleteConsumer(stream: string, consumer = this.consumerName): Promise<number> {
    return (await this.redis.call('XGROUP', 'DELCONSUMER', stream, this.name, consumer)) as number;
  }

  /** This group's XINFO GROUPS row on one stream, or undefined when the group does not exist there. */
  async info(stream: string): Promise<GroupInfo | undefined> {
    const rows = (await this.redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
    return rows.map(parseGroupInfo).find((g) => g.name === this.name);
  }

  async consumers(stream: string): Promise<ConsumerInfo[]> {
    const rows = (await this.redis.call('XINFO', 'CONSUMERS', stream, this.name)) as unknown[][];
    return rows.map((row) => {
      const m = pairs(row);
      return { name: String(m.name), pending: Number(m.pending), idleMs: Number(m.idle) };
    });
  }
}

export function parseGroupInfo(row: unknown[]): GroupInfo {
  const m = pairs(row);
  const nullable = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    name: String(m.name),
    consumers: Number(m.consumers),
    pending: Number(m.pending),
    lastDeliveredId: String(m['last-delivered-id']),
    entriesRead: nullable(m['entries-read']),
    lag: nullable(m.lag),
  };
}

/** Every group on a stream (XINFO GROUPS); empty when the stream does not exist. */
export async function groupsOf(redis: RedisClient, stream: string): Promise<GroupInfo[]> {
  try {
    return ((await redis.call('XINFO', 'GROUPS', stream)) as unknown[][]).map(parseGroupInfo);
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return [];
    throw err;
  }
}
