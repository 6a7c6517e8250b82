import { InvalidIdError } from './errors.js';
import { DAY_MS, pad2 } from './ids.js';
import { shardTag } from './shards.js';

export const DEFAULT_PREFIX = 'temps';

/**
 * A companion key of any key, in its cluster slot: `{<key>}:<name>`, or `<key>:<name>` for a key that
 * carries its own hash tag (a shard), which the companion keeps.
 */
export function companionKeyOf(key: string, name: string): string {
  return /\{[^{}]+\}/.test(key) ? `${key}:${name}` : `{${key}}:${name}`;
}

/** A shard of a day: shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * The one place that names pipe's keys. Partitions are `<prefix>:YYYYMMDD` by the reading's UTC day;
 * with N > 1 shards a day is N streams `<prefix>:YYYYMMDD:s<i>{<tag>}`, whose hash tags spread them
 * over a cluster's masters (shardTag). Per-partition state lives in companion keys in the partition's
 * cluster slot, so one script may touch both.
 */
export class PipelineKeys {
  private readonly partitionPattern: RegExp;

  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
      throw new InvalidIdError(prefix, 'key prefix (letters, digits, _ . -)');
    }
    this.partitionPattern = new RegExp(
      `^${prefix.replace(/[.]/g, '\\.')}:(\\d{4})(\\d{2})(\\d{2})(?::s(\\d+)\\{[^{}]+\\})?$`,
    );
  }

  /**
   * `temps:YYYYMMDD` for the UTC day of an event time in ms, whatever TZ says; with a shard of a
   * sharded day, `temps:YYYYMMDD:s<i>{<tag>}` (one shard is the plain day key).
   */
  partitionKeyFor(ms: number, shard?: Shard): string {
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) throw new InvalidIdError(String(ms), 'timestamp');
    const day = `${this.prefix}:${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`;
    if (!shard || shard.count <= 1) return day;
    return `${day}:s${shard.index}{${shardTag(shard.index, shard.count)}}`;
  }

  /** True only for a partition (or shard) with a real calendar day; never for averages or companions. */
  isPartitionKey(key: string): boolean {
    return this.dayOf(key) !== undefined;
  }

  /** The UTC midnight (ms) a partition key stands for, or undefined when the key is not a partition. */
  dayOf(key: string): number | undefined {
    const match = this.partitionPattern.exec(key);
    if (!match) return undefined;
    const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const ms = Date.UTC(y, m - 1, d);
    const check = new Date(ms);
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d)
      return undefined;
    return ms;
  }

  /** Like dayOf, but throws for a key that is not a partition. */
  parsePartitionKey(key: string): number {
    const day = this.dayOf(key);
    if (day === undefined) throw new InvalidIdError(key, 'partition key');
    return day;
  }

  /** Partition keys of every UTC day touched by [fromMs, toMs], oldest first. */
  partitionKeysBetween(fromMs: number, toMs: number): string[] {
    const keys: string[] = [];
    for (let day = Math.floor(fromMs / DAY_MS) * DAY_MS; day <= toMs; day += DAY_MS) {
      keys.push(this.partitionKeyFor(day));
    }
    return keys;
  }

  /** SCAN pattern that finds partition and shard candidates (filter with isPartitionKey). */
  get partitionScanPattern(): string {
    return `${this.prefix}:[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*`;
  }

  /** Hourly averages, capped by MAXLEN (RU202 layout). */
  get averages(): string {
    return `${this.prefix}:averages`;
  }

  /** Entries that could not be processed, with their reason. */
  get deadLetters(): string {
    return `${this.prefix}:dlq`;
  }

  /** Readings that arrived after their hour was published. */
  get late(): string {
    return `${this.prefix}:late`;
  }

  /** Readings above the alert threshold. */
  get alerts(): string {
    return `${this.prefix}:alerts`;
  }

  /** Lease that elects the active reaper. */
  get reaperLease(): string {
    return `${this.prefix}:reaper:lease`;
  }

  /** A viewer's last shown position, by viewer name. */
  viewerPosition(name: string): string {
    return `${this.prefix}:viewer:${name}`;
  }

  /**
   * A companion key of a partition (or any key), in its cluster slot: `{temps:20250101}:<name>`; a key
   * that carries its own hash tag (a shard) keeps it: `temps:20250101:s1{1.4}:<name>`.
   */
  companionKey(partitionKey: string, name: string): string {
    return companionKeyOf(partitionKey, name);
  }

  /** Every key pattern owned by the pipeline under this prefix (for reset and ACLs). */
  get ownedPatterns(): string[] {
    return [`${this.prefix}:*`, `{${this.prefix}:*`];
  }
}
