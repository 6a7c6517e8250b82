import { metric } from '@pipe/fixtures';

const WRITTEN = 'pipe_producer_readings_written_total';

/**
 * What the producer has reported as written (Redis acknowledged the batch), read from its /metrics
 * every `everyMs`, with the time of each reading: so a test can say what was acknowledged when.
 */
export class ProducerAcks {
  readonly samples: { at: number; written: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly metricsPort: number,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  /** Readings acknowledged so far (the latest sample; 0 before the first). */
  get latest(): number {
    return this.samples.at(-1)?.written ?? 0;
  }

  /** A sample taken now. */
  async sample(): Promise<number> {
    const at = Date.now();
    const written = await metric(this.metricsPort, WRITTEN).catch(() => Number.NaN);
    if (Number.isFinite(written)) this.samples.push({ at, written });
    return written;
  }

  /** Readings acknowledged by `time` at the latest: the last sample taken at or before it. */
  writtenBy(time: number): number {
    let written = 0;
    for (const s of this.samples) if (s.at <= time) written = s.written;
    return written;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
