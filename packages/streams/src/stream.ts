import type { FieldList } from './codecs.js';
import { IdTooSmallError } from './errors.js';
import type { RedisClient } from './redis.js';

export interface StreamEntry {
  id: string;
  fields: FieldList;
}

/** Trimming applied by add() or trim(): MAXLEN keeps a count, MINID drops entries below an ID. */
export type TrimStrategy =
  | { maxlen: number; approximate?: boolean }
  | { minid: string; approximate?: boolean };

export interface AddOptions {
  /** Explicit ID (`<ms>-<seq>`, `<ms>-*`); `*` (Redis assigns) by default. */
  id?: string;
  trim?: TrimStrategy;
  /** Do not create the stream when it does not exist (XADD NOMKSTREAM). */
  noMkStream?: boolean;
}

export interface RangeOptions {
  start?: string;
  end?: string;
  count?: number;
}

export interface StreamInfo {
  length: number;
  radixTreeKeys: number;
  radixTreeNodes: number;
  groups: number;
  lastGeneratedId: string;
  maxDeletedEntryId: string | null;
  entriesAdded: number | null;
  recordedFirstEntryId: string | null;
  firstEntry: StreamEntry | null;
  lastEntry: StreamEntry | null;
}

type RawEntry = [string, FieldList];

export function toEntries(raw: RawEntry[] | null | undefined): StreamEntry[] {
  return raw ? raw.map(([id, fields]) => ({ id, fields: fields ?? [] })) : [];
}

export function trimArgs(trim: TrimStrategy | undefined): (string | number)[] {
  if (!trim) return [];
  const op = trim.approximate ? '~' : '=';
  return 'maxlen' in trim ? ['MAXLEN', op, trim.maxlen] : ['MINID', op, trim.minid];
}

/** The XADD arguments after the key, as a pure function so pipelines and scripts build the same command. */
export function xaddArgs(fields: FieldList, options: AddOptions = {}): (string | number)[] {
  return [
    ...(options.noMkStream ? ['NOMKSTREAM'] : []),
    ...trimArgs(options.trim),
    options.id ?? '*',
    ...fields,
  ];
}

function isIdTooSmall(err: unknown): boolean {
  return err instanceof Error && /equal or smaller than the target stream top item/.test(err.message);
}

/** A typed view of one stream key (walrus's Stream, plus what it lacks). */
export class Stream {
  constructor(
    readonly redis: RedisClient,
    readonly key: string,
  ) {}

  /** XADD; returns the new ID. An explicit ID at or below the last one throws IdTooSmallError. */
  async add(fields: FieldList | Record<string, string | number>, options: AddOptions = {}): Promise<string> {
    const list = Array.isArray(fields) ? fields : Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
    try {
      return (await this.redis.call('XADD', this.key, ...xaddArgs(list, options))) as string;
    } catch (err) {
      if (isIdTooSmall(err)) throw new IdTooSmallError(this.key, options.id ?? '*', { cause: err });
      throw err;
    }
  }

  /**
   * Adds many entries in pipelined chunks (one round trip per chunk) and returns their IDs in order.
   * An entry that Redis refuses is reported as an Error in its slot; the others still land.
   */
  async addMany(
    entries: readonly { fields: FieldList; id?: string }[],
    options: Omit<AddOptions, 'id'> & { chunk?: number } = {},
  ): Promise<(string | Error)[]> {
    const chunk = options.chunk ?? 1000;
    // The hot path of the producer: the options part of XADD is built once, and each entry costs one
    // queued command and nothing else (no slices, spreads of option objects or per-entry arrays).
    const head = xaddArgs([], { noMkStream: options.noMkStream, trim: options.trim }).slice(0, -1);
    const ids = new Array<string | Error>(entries.length);
    for (let from = 0; from < entries.length; from += chunk) {
      const to = Math.min(from + chunk, entries.length);
      const pipeline = this.redis.pipeline();
      for (let i = from; i < to; i++) {
        const entry = entries[i]!;
        // One spread per call: V8 copies arguments when a call has several spreads.
        if (head.length === 0) pipeline.xadd(this.key, entry.id ?? '*', ...entry.fields);
        else pipeline.xadd(this.key, ...head.concat(entry.id ?? '*', entry.fields));
      }
      const results = (await pipeline.exec()) ?? [];
      for (let i = from; i < to; i++) {
        const reply = results[i - from];
        if (!reply) ids[i] = new Error('no reply in the pipeline result');
        else ids[i] = reply[0] ? this.addError(reply[0], entries[i]!.id) : (reply[1] as string);
      }
    }
    return ids;
  }

  private addError(err: Error, id: string | undefined): Error {
    return isIdTooSmall(err) ? new IdTooSmallError(this.key, id ?? '*', { cause: err }) : err;
  }

  async get(id: string): Promise<StreamEntry | undefined> {
    const [entry] = await this.range({ start: id, end: id, count: 1 });
    return entry;
  }

  async range({ start = '-', end = '+', count }: RangeOptions = {}): Promise<StreamEntry[]> {
    const args: (string | number)[] = [this.key, start, end];
    if (count !== undefined) args.push('COUNT', count);
    return toEntries((await this.redis.call('XRANGE', ...args)) as RawEntry[]);
  }

  /** Newest first: `start` is the high end, as in XREVRANGE. */
  async revrange({ start = '+', end = '-', count }: RangeOptions = {}): Promise<StreamEntry[]> {
    const args: (string | number)[] = [this.key, start, end];
    if (count !== undefined) args.push('COUNT', count);
    return toEntries((await this.redis.call('XREVRANGE', ...args)) as RawEntry[]);
  }

  /** Every entry, oldest first, fetched `pageSize` at a time (memory stays flat). */
  async *entries({
    start = '-',
    end = '+',
    pageSize = 1000,
  }: RangeOptions & { pageSize?: number } = {}): AsyncGenerator<StreamEntry> {
    let from = start;
    for (;;) {
      const page = await this.range({ start: from, end, count: pageSize });
      yield* page;
      if (page.length < pageSize) return;
      from = `(${page[page.length - 1]!.id}`;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<StreamEntry> {
    return this.entries();
  }

  async delete(...ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (await this.redis.call('XDEL', this.key, ...ids)) as number;
  }

  async length(): Promise<number> {
    return (await this.redis.call('XLEN', this.key)) as number;
  }

  /**
   * Entries after `lastId` (exclusive), optionally blocking up to `block` ms for new ones;
   * `$` means only entries added from now on.
   */
  async read({
    lastId = '0',
    count,
    block,
  }: {
    lastId?: string;
    count?: number;
    block?: number;
  } = {}): Promise<StreamEntry[]> {
    const args: (string | number)[] = [];
    if (count !== undefined) args.push('COUNT', count);
    if (block !== undefined) args.push('BLOCK', block);
    const reply = (await this.redis.call('XREAD', ...args, 'STREAMS', this.key, lastId)) as
      | [string, RawEntry[]][]
      | null;
    return toEntries(reply?.[0]?.[1]);
  }

  /** XTRIM; returns the number of entries removed. */
  async trim(strategy: TrimStrategy): Promise<number> {
    return (await this.redis.call('XTRIM', this.key, ...trimArgs(strategy))) as number;
  }

  async info(): Promise<StreamInfo> {
    const raw = (await this.redis.call('XINFO', 'STREAM', this.key)) as unknown[];
    const map = pairs(raw);
    const entry = (v: unknown): StreamEntry | null =>
      Array.isArray(v) ? toEntries([v as RawEntry])[0]! : null;
    return {
      length: Number(map['length']),
      radixTreeKeys: Number(map['radix-tree-keys']),
      radixTreeNodes: Number(map['radix-tree-nodes']),
      groups: Number(map['groups']),
      lastGeneratedId: String(map['last-generated-id']),
      maxDeletedEntryId: (map['max-deleted-entry-id'] as string | undefined) ?? null,
      entriesAdded: map['entries-added'] === undefined ? null : Number(map['entries-added']),
      recordedFirstEntryId: (map['recorded-first-entry-id'] as string | undefined) ?? null,
      firstEntry: entry(map['first-entry']),
      lastEntry: entry(map['last-entry']),
    };
  }

  /** XSETID: moves the stream's last ID (it may not go below the top entry). */
  async setId(id: string): Promise<void> {
    await this.redis.call('XSETID', this.key, id);
  }

  /** Expires the stream `seconds` from now. */
  async expire(seconds: number): Promise<boolean> {
    return ((await this.redis.call('EXPIRE', this.key, seconds)) as number) === 1;
  }

  /** Expires the stream at an absolute time in ms. */
  async expireAt(ms: number): Promise<boolean> {
    return ((await this.redis.call('PEXPIREAT', this.key, Math.trunc(ms))) as number) === 1;
  }

  /** Remaining time to live in ms; -1 without expiry, -2 when the key does not exist. */
  async ttl(): Promise<number> {
    return (await this.redis.call('PTTL', this.key)) as number;
  }
}

/** Turns Redis's flat `[k1, v1, k2, v2]` replies into an object. */
export function pairs(raw: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = raw[i + 1];
  return out;
}
