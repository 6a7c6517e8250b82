import { companionKeyOf, type PipelineKeys, type WindowSize } from '@pipe/streams';

/**
 * The aggregator's per-partition state, in companion keys that share the partition's cluster slot so
 * one script can ack entries and count them.
 */
export class AggregatorStateKeys {
  constructor(private readonly keys: PipelineKeys) {}

  /**
   * The partition's `agg` hash: `maxts` = newest event time counted from this partition (feeds the
   * watermark); `sealed` = the latest hour closed in this partition (its readings and earlier ones are
   * late); `group` = the consumer group that counts it.
   */
  aggHash(partition: string): string {
    return this.keys.companionKey(partition, 'agg');
  }

  /** Sorted set of the partition's hours that have counts and are not yet published. */
  openHours(partition: string): string {
    return this.keys.companionKey(partition, 'open');
  }

  /** Hash of one hour's running totals: n, sum, min, max, hn, hsum, devices, d:<device>. */
  hour(partition: string, hourStart: number): string {
    return this.keys.companionKey(partition, `hour:${hourStart}`);
  }

  /**
   * Sorted set of the partition's hours whose totals a publication holds (settle-window-n.lua keeps those
   * totals): the hours to publish again should the averages stream lose their publication.
   */
  settledHours(partition: string): string {
    return this.keys.companionKey(partition, 'settled');
  }

  /** The consumer group that counts into the averages stream (see ownership.ts), beside it. */
  owner(): string {
    return this.keys.companionKey(this.keys.averages, 'owner');
  }

  /** The partitions whose totals a published hour sums, beside the averages stream. */
  sources(hourStart: number): string {
    return this.keys.companionKey(this.keys.averages, `sources:${hourStart}`);
  }

  // Windows of any size (--windows). The 1h tier keeps the names above in every layout, so the default
  // layout's keyspace is exactly what it was before windows; other sizes carry theirs in the name.

  /** The `agg` field of the latest window of a size sealed in the partition: `sealed` for 1h. */
  sealedField(size: WindowSize): string {
    return size.label === '1h' ? 'sealed' : `sealed:${size.label}`;
  }

  /** Sorted set of the partition's windows of a size that have counts and are not yet published. */
  openWindows(partition: string, size: WindowSize): string {
    return size.label === '1h'
      ? this.openHours(partition)
      : this.keys.companionKey(partition, `open:${size.label}`);
  }

  /** Hash of one window's running totals (as an hour's, plus sq, f, l). */
  window(partition: string, size: WindowSize, start: number): string {
    return size.label === '1h'
      ? this.hour(partition, start)
      : this.keys.companionKey(partition, `win:${size.label}:${start}`);
  }

  /** Sorted set of the partition's settled windows of a size (see settledHours). */
  settledWindows(partition: string, size: WindowSize): string {
    return size.label === '1h'
      ? this.settledHours(partition)
      : this.keys.companionKey(partition, `settled:${size.label}`);
  }

  /** The partitions whose totals a published window sums, beside the size's fleet stream. */
  windowSources(size: WindowSize, start: number): string {
    return size.label === '1h'
      ? this.sources(start)
      : companionKeyOf(this.keys.averagesFor(size), `sources:${start}`);
  }
}
