import type { Reading } from '@pipe/streams';
import type { PartitionWriter, WriteItem } from './partition-writer.js';
import { SensorSimulator } from './simulator.js';

export interface SampleDataSetOptions {
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

/** How many readings the data set holds: one per device per interval step in [from, to). */
export function sampleDataSetSize(o: {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  devices: number;
}): number {
  return Math.ceil((o.toMs - o.fromMs) / o.intervalMs) * o.devices;
}

/**
 * What `backfill` writes, a deterministic sample data set: every device reads at from, from + interval, ... before to, with
 * values from a seeded simulator, so the same flags always give the same readings.
 */
export class SampleDataSet {
  /** Readings handed to the writer so far. */
  produced = 0;
  /** Event time of the first step not yet handed to the writer. */
  nextTs: number;
  private stopping = false;

  constructor(private readonly options: SampleDataSetOptions) {
    this.nextTs = options.fromMs;
  }

  get total(): number {
    return sampleDataSetSize(this.options);
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
