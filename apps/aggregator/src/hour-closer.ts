import { hourLabel, type Logger, type PipelineKeys, type RedisClient } from '@pipe/streams';
import { type PartitionProgress, watermarkOf } from './progress.js';
import type { AggregatorScripts, CloseStatus } from './scripts.js';
import type { AggregatorStateKeys } from './state-keys.js';

export interface HourCloserOptions {
  redis: RedisClient;
  scripts: AggregatorScripts;
  keys: PipelineKeys;
  state: AggregatorStateKeys;
  group: string;
  graceMs: number;
  keepHours: number;
  log: Logger;
  onPublished?: (hourStart: number, average: string) => void;
}

/** Pending entries close-hour inspects before it gives up and waits (bounds the script's work). */
const PENDING_INSPECT_LIMIT = 10_000;

export interface CloseRound {
  published: number;
  /** Why the round stopped before the last open hour, if it did. */
  blockedBy?: { status: CloseStatus; hourStart: number; detail: string };
  openHours: number;
}

/**
 * Publishes due hours oldest first. An hour is due when stream time (watermarkOf) passed its end plus
 * the grace, or at once when forced (drain, idle close). The script re-checks everything atomically, so instances may race freely.
 */
export class HourCloser {
  constructor(private readonly o: HourCloserOptions) {}

  /** One pass over the open hours, oldest first; `progress` is readProgress() of the live partitions. */
  async closeDue(progress: PartitionProgress[], { force = false } = {}): Promise<CloseRound> {
    const watermark = watermarkOf(progress);
    const partitions = progress.map((p) => p.partition);
    let published = 0;
    let openHours = 0;
    const round: CloseRound = { published: 0, openHours: 0 };
    for (let i = 0; i < partitions.length; i++) {
      const partition = partitions[i]!;
      const hours = (await this.o.redis.zrange(this.o.state.openHours(partition), 0, -1)).map(Number);
      openHours += hours.length;
      for (const hourStart of hours) {
        if (round.blockedBy) continue;
        const { date, hour } = hourLabel(hourStart);
        const [status, detail] = await this.o.scripts.closeHour(
          [
            partition,
            this.o.state.openHours(partition),
            this.o.state.hour(partition, hourStart),
            this.o.keys.averages,
            this.o.keys.late,
            ...partitions.slice(0, i).map((p) => this.o.state.openHours(p)),
          ],
          [
            this.o.group,
            hourStart,
            watermark,
            this.o.graceMs,
            this.o.keepHours,
            force ? '1' : '0',
            PENDING_INSPECT_LIMIT,
            date,
            hour,
          ],
        );
        if (status === 'published') {
          published++;
          openHours--;
          this.o.log.info({ partition, date, hour, average: detail }, 'published hourly average');
          this.o.onPublished?.(hourStart, detail);
        } else if (status === 'empty') {
          openHours--;
        } else if (status === 'superseded') {
          openHours--;
          this.o.log.error(
            { partition, hourStart, lastPublished: detail },
            'hour closed after a later one; totals sent to the late stream',
          );
        } else {
          round.blockedBy = { status, hourStart, detail };
        }
      }
    }
    round.published = published;
    round.openHours = openHours;
    return round;
  }
}
