import { InvalidIdError } from './errors.js';
import { DAY_MS, pad2 } from './ids.js';
import { shardTag } from './shards.js';
import type { WindowSize } from './windows.js';

export const DEFAULT_PREFIX = 'temps';

/**
 * What a key prefix may be: a plain name. It becomes part of every key, ACL rule and SCAN pattern, so it
 * must carry no glob (`*?[]`), hash-tag (`{}`) or separator (`:`, space) characters of its own.
 */
export const PREFIX_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** PREFIX_PATTERN in words, for the messages that refuse a prefix. */
export const PREFIX_RULE = 'letters, digits, _ . - only';

/** The producer's ledger of the batches written to a partition (a companion key). */
const BATCH_LEDGER = 'batches';

/** Eight digits: the `YYYYMMDD` of a day partition as a glob. */
const DAY_DIGITS = '[0-9]'.repeat(8);

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
    if (!PREFIX_PATTERN.test(prefix)) throw new InvalidIdError(prefix, `key prefix (${PREFIX_RULE})`);
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

  /**
   * The fleet's results of a window size: `temps:averages` for `1h` (the RU202 stream, in every
   * layout), `temps:averages:<size>` for the others (`temps:averages:1m`).
   */
  averagesFor(size: WindowSize): string {
    return size.label === '1h' ? this.averages : `${this.averages}:${size.label}`;
  }

  /**
   * One device's results of a window size: `{temps:device:<device>}:<size>`, companions of
   * `temps:device:<device>`, so every tier of a device shares one cluster slot (a device name matches
   * DEVICE_PATTERN, which has no `{}`, so it cannot move the key to another slot).
   */
  deviceWindows(device: string, size: WindowSize): string {
    return companionKeyOf(`${this.prefix}:device:${device}`, size.label);
  }

  /** Every device with results, by the time of its newest reading (a sorted set). */
  get devicesIndex(): string {
    return `${this.prefix}:devices`;
  }

  /**
   * Each indexed device's latest 1h result (hash: device → JSON), beside the index in its slot, so one
   * slot answers "every device with its last reading and latest hour".
   */
  get devicesLatest(): string {
    return companionKeyOf(this.devicesIndex, 'latest');
  }

  /**
   * The window layout of each UTC day (`<first day ms>` → `1m,1h,1d`), beside the averages stream;
   * absent for a pipeline that only ever ran `1h`. See LayoutRecord.
   */
  get windowsLayout(): string {
    return companionKeyOf(this.averages, 'windows');
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

  /**
   * The alerter's state, companions of the alerts stream in its cluster slot so one script updates them
   * with the stream: each (rule, device)'s state machine (hash `<rule>:<device>` → `p:<since>` or
   * `f:<since>:<value>`; absent: ok).
   */
  get alertStates(): string {
    return companionKeyOf(this.alerts, 'state');
  }

  /** The last partition entry the alerter applied, by partition (hash): a redelivery at or below is skipped. */
  get alertPositions(): string {
    return companionKeyOf(this.alerts, 'positions');
  }

  /** The event time of each device's newest reading the alerter applied (hash), for `no_data_for`. */
  get alertDevicesSeen(): string {
    return companionKeyOf(this.alerts, 'seen');
  }

  /** Lease that elects the one alerter that consumes (order matters to its state machines). */
  get alerterLease(): string {
    return `${this.prefix}:alerter:lease`;
  }

  /** Lease that elects the active reaper. */
  get reaperLease(): string {
    return `${this.prefix}:reaper:lease`;
  }

  /**
   * A viewer's last shown position, by viewer name: `temps:viewer:<name>` for the hourly averages,
   * `temps:viewer:<name>:<series>` for another series it tails (`device:sensor-7:1m`, `averages:1m`).
   */
  viewerPosition(name: string, series?: string): string {
    return series === undefined ? `${this.prefix}:viewer:${name}` : `${this.prefix}:viewer:${name}:${series}`;
  }

  /**
   * A companion key of a partition (or any key), in its cluster slot: `{temps:20250101}:<name>`; a key
   * that carries its own hash tag (a shard) keeps it: `temps:20250101:s1{1.4}:<name>`.
   */
  companionKey(partitionKey: string, name: string): string {
    return companionKeyOf(partitionKey, name);
  }

  /** The producer's ledger of the batches it wrote to a partition or shard (a companion key). */
  batchLedger(partitionKey: string): string {
    return companionKeyOf(partitionKey, BATCH_LEDGER);
  }

  /** Every key pattern owned by the pipeline under this prefix (for reset and ACLs). */
  get ownedPatterns(): string[] {
    return [`${this.prefix}:*`, `{${this.prefix}:*`];
  }

  /** Glob patterns (ACL key patterns, SCAN MATCH) of each kind of key named here. */
  get patterns(): KeyPatterns {
    const prefix = this.prefix;
    const day = `${prefix}:${DAY_DIGITS}`;
    const shard = `${day}:s*}`;
    const namedCompanions = (name: string) => [`{${day}}:${name}`, `${shard}:${name}`];
    return {
      all: this.ownedPatterns,
      dayPartitions: day,
      shards: shard,
      partitionNames: `${prefix}:[0-9]*`,
      partitionCompanions: `{${prefix}:[0-9]*`,
      shardCompanions: `${prefix}:[0-9]*}:*`,
      namedCompanions,
      batchLedgers: namedCompanions(BATCH_LEDGER),
      // The prefix and the names below hold no glob characters: each key is its own pattern.
      outputStreams: [this.averages, this.late, this.deadLetters, this.alerts],
      companionsOf: (key: string) => companionKeyOf(key, '*'),
      reaperLease: this.reaperLease,
      alerterLease: this.alerterLease,
      viewerPositions: this.viewerPosition('*'),
      fleetWindows: `${this.averages}:*`,
      deviceWindows: `{${prefix}:device:*`,
      devicesIndex: this.devicesIndex,
      devicesLatest: this.devicesLatest,
    };
  }
}

/**
 * Glob patterns of pipe's keys under one prefix, as ACL rules (`~<pattern>`) and SCAN MATCH take them.
 * Each matches the keys of its kind that PipelineKeys makes and none of another kind, except where
 * a pattern says it takes in more.
 */
export interface KeyPatterns {
  /** Every key of the pipeline: `temps:*` and `{temps:*` (the companions of partitions and streams). */
  all: string[];
  /** A day partition, exactly: `temps:YYYYMMDD`. */
  dayPartitions: string;
  /** A shard of a day, exactly: `temps:YYYYMMDD:s<i>{tag}` (the only keys that end in `}`). */
  shards: string;
  /** Every key named after a partition: day partitions, shards and the shards' companions (`temps:[0-9]*`). */
  partitionNames: string;
  /** Every companion of a day partition: `{temps:YYYYMMDD}:<name>`. */
  partitionCompanions: string;
  /** Every companion of a shard: `temps:YYYYMMDD:s<i>{tag}:<name>`. */
  shardCompanions: string;
  /** One companion of every day partition and of every shard, by name: `[{<day>}:<name>, <shard>:<name>]`. */
  namedCompanions(name: string): string[];
  /** The producer's batch ledgers: `namedCompanions` of the ledger (see PipelineKeys.batchLedger). */
  batchLedgers: string[];
  /** The aggregator's output streams: averages, late, dead letters, alerts (in that order). */
  outputStreams: string[];
  /** Every companion of a key that is not a partition, e.g. an output stream: `{temps:averages}:*`. */
  companionsOf(key: string): string;
  /** The reaper's lease. */
  reaperLease: string;
  /** The alerter's lease. */
  alerterLease: string;
  /** Every viewer's saved position: `temps:viewer:*`. */
  viewerPositions: string;
  /** The fleet's streams of other sizes than 1h: `temps:averages:*` (`temps:averages:1m`, …). */
  fleetWindows: string;
  /** Every device's results of every size: `{temps:device:*`. */
  deviceWindows: string;
  /** The index of devices with results. */
  devicesIndex: string;
  /** The latest 1h result of each indexed device: `{temps:devices}:latest`. */
  devicesLatest: string;
}
