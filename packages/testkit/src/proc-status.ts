import { readFile } from 'node:fs/promises';

/** A memory figure of a process, in KiB, from /proc/<pid>/status (Linux). */
export type MemoryField = 'VmRSS' | 'VmHWM';

/** `VmRSS` (resident now) or `VmHWM` (the peak so far) of a process in KiB; 0 once it is gone. */
export async function procStatusKiB(pid: number, field: MemoryField): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
}

export interface RssSample {
  /** ms since sampling started. */
  atMs: number;
  kib: number;
}

/** Samples a process's resident set size every `everyMs` until stop() or until the process is gone. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  private async sample(): Promise<void> {
    const kib = await procStatusKiB(this.pid, 'VmRSS');
    if (kib === 0) this.stop();
    else this.samples.push({ atMs: Date.now() - this.started, kib });
  }

  stop(): RssSample[] {
    clearInterval(this.timer);
    return this.samples;
  }

  /** The highest sample in each third of the time sampled, in KiB. */
  peaksByThird(): [number, number, number] {
    const start = this.samples[0]?.atMs ?? 0;
    const length = Math.max(1, (this.samples.at(-1)?.atMs ?? 0) - start);
    const peaks: [number, number, number] = [0, 0, 0];
    for (const { atMs, kib } of this.samples) {
      const third = Math.min(2, Math.floor((3 * (atMs - start)) / length));
      peaks[third] = Math.max(peaks[third]!, kib);
    }
    return peaks;
  }
}
