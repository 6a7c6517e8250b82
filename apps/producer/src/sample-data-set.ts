import type { Reading } from '@pipe/streams';
import type { PartitionWriter, WriteItem } from './partition-writer.js';
import { SensorSimulator } from './simulator.js';

export interface BackfillOptions {
  fromMs: number;
  /** Exclusive. */
  toMs: number;
  intervalMs: number;
  devices: number;
  seed: number;
  batchSize: number;
  writer: PartitionWriter<Reading>;
  onProgress?: (produced: number) => void;
}

/** How many readings a backfill writes. */
export function backfillSize(o: {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  devices: number;
}): number {
  return Math.ceil((o.toMs - o.fromMs) / o.intervalMs) * o.devices;
}

/**
 * A deterministic sample data set: every device reads at from, from + interval, ... before to, with
 * values from a seeded simulator, so the same flags always give the same readings.
 */
export class Backfill {
  /** Readings handed to the writer so far. */
  produced = 0;
  /** Event time of the first step not yet handed to the writer. */
  nextTs: number;
  private stopping = false;

  constructor(private readonly options: BackfillOptions) {
    this.nextTs = options.fromMs;
  }

  get total(): number {
    return backfillSize(this.options);
  }

  /** Generates and writes until done or stopped; generation waits for the writer (backpressure). */
  async run(): Promise<{ interrupted: boolean }> {
    const { toMs, intervalMs, devices, seed, batchSize, writer, onProgress } = this.options;
    const simulator = new SensorSimulator(devices, seed);
    const readings: Reading[] = [];
    while (this.nextTs < toMs && !this.stopping) {
      readings.length = 0;
      while (readings.length < batchSize && this.nextTs < toMs) {
        simulator.readingsAt(this.nextTs, readings);
        this.nextTs += intervalMs;
      }
      const items: WriteItem<Reading>[] = readings.map((reading) => ({ reading, source: reading }));
      await writer.write(items);
      this.produced += items.length;
      onProgress?.(this.produced);
    }
    return { interrupted: this.stopping };
  }

  stop(): void {
    this.stopping = true;
  }
}
