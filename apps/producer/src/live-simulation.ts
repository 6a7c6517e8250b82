import { setTimeout as sleep } from 'node:timers/promises';
import type { Reading } from '@pipe/streams';
import type { PartitionWriter, WriteItem } from './partition-writer.js';
import { SensorSimulator } from './simulator.js';

const MIN_PAUSE_MS = 100;
/** Longest sleep, so that stop() and --duration are noticed promptly. */
const MAX_PAUSE_MS = 250;

export interface LiveSimulationOptions {
  devices: number;
  /** Simulated time between two readings of a device. */
  intervalMs: number;
  /** Simulated time runs this many times faster than real time. */
  speed: number;
  seed: number;
  batchSize: number;
  writer: PartitionWriter<Reading>;
  /** Real time after which the simulation ends by itself. */
  durationMs?: number;
  clock?: () => number;
}

/**
 * Devices reading in (optionally accelerated) real time. Simulated time starts now and advances
 * `speed` times faster than the clock; every device reads once per simulated interval. When the writer
 * is slow the loop waits for it and then catches up, so no step is skipped and memory stays bounded.
 */
export class LiveSimulation {
  produced = 0;
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: LiveSimulationOptions) {}

  /** Starts the loop; `done` settles when it ends (stop(), --duration, or a writer failure). */
  start(): void {
    if (this.running) throw new Error('already running');
    this.running = this.loop();
  }

  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => {});
  }

  private async loop(): Promise<void> {
    const { devices, intervalMs, speed, seed, batchSize, writer, durationMs } = this.options;
    const clock = this.options.clock ?? Date.now;
    const simulator = new SensorSimulator(devices, seed);
    const realStart = clock();
    const simStart = Math.floor(realStart / intervalMs) * intervalMs;
    let nextTs = simStart;
    const readings: Reading[] = [];
    while (!this.stopping) {
      const realNow = clock();
      if (durationMs !== undefined && realNow - realStart >= durationMs) break;
      const simNow = simStart + (realNow - realStart) * speed;
      readings.length = 0;
      while (nextTs <= simNow && readings.length < batchSize) {
        simulator.readingsAt(nextTs, readings);
        nextTs += intervalMs;
      }
      if (readings.length > 0) {
        const items: WriteItem<Reading>[] = readings.map((reading) => ({ reading, source: reading }));
        await writer.write(items);
        this.produced += items.length;
      }
      if (nextTs > simNow) {
        // Caught up: wait for the next step, but at least MIN_PAUSE_MS, so that a fast simulation sends a
        // few larger batches a second rather than one per step (each batch costs a ledger entry).
        const dueInMs = (nextTs - simNow) / speed;
        await sleep(Math.min(Math.max(dueInMs, MIN_PAUSE_MS), MAX_PAUSE_MS));
      }
    }
    await writer.flush();
  }
}
