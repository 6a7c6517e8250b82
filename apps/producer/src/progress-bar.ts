import type { Writable } from 'node:stream';

/** A one-line progress bar for terminals, redrawn at most every `everyMs`. */
export class ProgressBar {
  private lastDraw = 0;
  private readonly started = performance.now();

  constructor(
    private readonly out: Writable,
    private readonly total: number,
    private readonly width = 30,
    private readonly everyMs = 100,
  ) {}

  /** A bar on `out` when it is a terminal, nothing otherwise (logs and pipes stay clean). */
  static forTerminal(out: Writable & { isTTY?: boolean }, total: number): ProgressBar | undefined {
    return out.isTTY ? new ProgressBar(out, total) : undefined;
  }

  update(done: number): void {
    const now = performance.now();
    if (now - this.lastDraw < this.everyMs) return;
    this.lastDraw = now;
    this.out.write(`\r${renderBar(done, this.total, (now - this.started) / 1000, this.width)}`);
  }

  finish(done: number): void {
    this.out.write(
      `\r${renderBar(done, this.total, (performance.now() - this.started) / 1000, this.width)}\n`,
    );
  }
}

export function renderBar(done: number, total: number, seconds: number, width: number): string {
  const fraction = total > 0 ? Math.min(done / total, 1) : 1;
  const filled = Math.round(fraction * width);
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}% ${done}/${total} readings ${rate}/s`;
}
