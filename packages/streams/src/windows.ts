import { InvalidWindowsError } from './errors.js';
import { DAY_MS, HOUR_MS } from './ids.js';

const MINUTE_MS = 60_000;

/**
 * The window sizes pipe closes: whole minutes that divide a UTC day, so every window lies inside one
 * day partition (one cluster slot) and windows of a size tile the day from midnight. Nothing over a
 * day (a window would span partitions), nothing under a minute.
 */
export const WINDOW_SIZES = [
  '1m',
  '2m',
  '3m',
  '4m',
  '5m',
  '6m',
  '10m',
  '12m',
  '15m',
  '20m',
  '30m',
  '1h',
  '2h',
  '3h',
  '4h',
  '6h',
  '8h',
  '12h',
  '1d',
] as const;

export type WindowLabel = (typeof WINDOW_SIZES)[number];

/** One window size: its label as flags and keys spell it, and its length. */
export interface WindowSize {
  label: WindowLabel;
  ms: number;
}

/** The hour: the size of `temps:averages`, in every layout. */
export const HOUR_WINDOW: WindowSize = { label: '1h', ms: HOUR_MS };

/**
 * How messages and the late stream's reasons name a window of a size: `hour` for 1h (the name
 * temps:late used before windows), `window 1m` and so on for the others.
 */
export function windowName(size: WindowSize): string {
  return size.label === '1h' ? 'hour' : `window ${size.label}`;
}

const UNIT_MS = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;

/** `1m` … `1d` (one of WINDOW_SIZES). */
export function parseWindowSize(text: string): WindowSize {
  const label = text.trim();
  if (!(WINDOW_SIZES as readonly string[]).includes(label))
    throw new InvalidWindowsError(
      `not a window size: ${JSON.stringify(text)} (one of ${WINDOW_SIZES.join(' ')})`,
    );
  const unit = label.slice(-1) as keyof typeof UNIT_MS;
  return { label: label as WindowLabel, ms: Number(label.slice(0, -1)) * UNIT_MS[unit] };
}

/** The window of `size` that holds event time `ts`: [start, end), start = floor(ts / size) * size (UTC). */
export function windowOf(ts: number, size: WindowSize): { start: number; end: number } {
  const start = Math.floor(ts / size.ms) * size.ms;
  return { start, end: start + size.ms };
}

/** How the layout record marks a layout with per-device results: `1m,1h,1d+device`. */
const PER_DEVICE_SUFFIX = '+device';

/**
 * The window sizes an aggregator closes, finest first (`--windows`). Each is a multiple of the next
 * finer one, so a coarser window is a whole number of finer ones (its totals are their sum), and `1h`
 * is always there: `temps:averages` is the pipeline's contract.
 */
export class WindowLayout {
  readonly sizes: readonly WindowSize[];

  /**
   * `perDevice` (`--per-device`): every device's own result of every size too, beside the fleet's
   * (recorded as `+device` after the sizes).
   */
  constructor(
    sizes: WindowSize[],
    readonly perDevice = false,
  ) {
    const sorted = [...new Map(sizes.map((s) => [s.label, s])).values()].sort((a, b) => a.ms - b.ms);
    if (!sorted.some((s) => s.label === '1h'))
      throw new InvalidWindowsError(
        `windows ${sorted.map((s) => s.label).join(',')} lack 1h (temps:averages)`,
      );
    for (let i = 1; i < sorted.length; i++) {
      const [finer, coarser] = [sorted[i - 1]!, sorted[i]!];
      if (coarser.ms % finer.ms !== 0)
        throw new InvalidWindowsError(`window ${coarser.label} is not a multiple of ${finer.label}`);
    }
    this.sizes = sorted;
  }

  /** `1m,1h,1d` in any order, `+device` after them for per-device results; duplicates count once. */
  static parse(text: string): WindowLayout {
    const perDevice = text.trim().endsWith(PER_DEVICE_SUFFIX);
    const sizes = perDevice ? text.trim().slice(0, -PER_DEVICE_SUFFIX.length) : text;
    const parts = sizes.split(',').map((s) => s.trim());
    if (parts.some((p) => p === ''))
      throw new InvalidWindowsError(`not a window list: ${JSON.stringify(text)}`);
    return new WindowLayout(parts.map(parseWindowSize), perDevice);
  }

  /** The same sizes, with or without per-device results. */
  withPerDevice(perDevice: boolean): WindowLayout {
    return new WindowLayout([...this.sizes], perDevice);
  }

  /** The layout of a pipeline that never chose one: `1h` only, today's keys, fields and scripts. */
  static readonly DEFAULT = new WindowLayout([HOUR_WINDOW]);

  /** True for `1h` alone without devices: the aggregator then runs exactly as before windows existed. */
  get isDefault(): boolean {
    return this.sizes.length === 1 && !this.perDevice;
  }

  /** The size readings are counted into; the coarser ones are rolled up from it. */
  get finest(): WindowSize {
    return this.sizes[0]!;
  }

  /** The next coarser size, which `size` folds into when it settles (undefined for the coarsest). */
  coarserThan(size: WindowSize): WindowSize | undefined {
    return this.sizes[this.sizes.findIndex((s) => s.label === size.label) + 1];
  }

  /** The next finer size, whose windows must all settle before a window of `size` seals. */
  finerThan(size: WindowSize): WindowSize | undefined {
    const i = this.sizes.findIndex((s) => s.label === size.label);
    return i > 0 ? this.sizes[i - 1] : undefined;
  }

  /** `1m,1h,1d` (`1m,1h,1d+device` per device): as the layout record stores it. */
  toString(): string {
    return this.sizes.map((s) => s.label).join(',') + (this.perDevice ? PER_DEVICE_SUFFIX : '');
  }

  /** The aggregator's flags that run this layout: `--windows 1m,1h,1d --per-device`. */
  get flags(): string {
    return `--windows ${this.sizes.map((s) => s.label).join(',')}${this.perDevice ? ' --per-device' : ''}`;
  }

  equals(other: WindowLayout): boolean {
    return this.toString() === other.toString();
  }
}

/** What `--keep` may give a size: whole minutes, hours or days. */
const KEEP_PATTERN = /^(\d+)([mhd])$/;
/** The longest a result is kept. */
export const MAX_KEEP_MS = 400 * DAY_MS;
/** Windows kept of a size `--keep` does not name (capped at MAX_KEEP_MS): 12h of 1m, 30d of 1h. */
export const DEFAULT_KEPT_WINDOWS = 720;

/**
 * The sizes `--keep 1m=12h,1h=30d,1d=400d` names, with how long each size's results are kept (ms).
 * A keep shorter than one window, or over MAX_KEEP_MS, is refused.
 */
export function parseKeepEntries(text: string): Map<WindowLabel, number> {
  const keep = new Map<WindowLabel, number>();
  for (const part of text.split(',').map((s) => s.trim())) {
    if (part === '') continue;
    const [label = '', value = '', ...rest] = part.split('=').map((s) => s.trim());
    const match = KEEP_PATTERN.exec(value);
    if (!match || rest.length > 0)
      throw new InvalidWindowsError(`not a keep: ${JSON.stringify(part)} (e.g. 1m=12h)`);
    const size = parseWindowSize(label);
    const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    if (ms < size.ms) throw new InvalidWindowsError(`--keep ${part} is shorter than one window`);
    if (ms > MAX_KEEP_MS) throw new InvalidWindowsError(`--keep ${part} is over 400d`);
    // Last-wins would silently drop what an operator wrote first: say which one to keep.
    if (keep.has(size.label)) throw new InvalidWindowsError(`--keep names ${size.label} twice`);
    keep.set(size.label, ms);
  }
  return keep;
}

/**
 * How long each size of the layout is kept: the sizes `named` (parseKeepEntries) as named, the others
 * DEFAULT_KEPT_WINDOWS windows, at most MAX_KEEP_MS. A named size that is not in the layout is refused.
 */
export function keepOf(
  named: ReadonlyMap<WindowLabel, number>,
  layout: WindowLayout,
): Map<WindowLabel, number> {
  const keep = new Map<WindowLabel, number>(
    layout.sizes.map((s) => [s.label, Math.min(s.ms * DEFAULT_KEPT_WINDOWS, MAX_KEEP_MS)]),
  );
  for (const [label, ms] of named) {
    if (!keep.has(label))
      throw new InvalidWindowsError(`--keep names ${label}, which is not among the windows ${layout}`);
    keep.set(label, ms);
  }
  return keep;
}

/** `--keep` for a layout: keepOf(parseKeepEntries(text), layout). */
export function parseKeep(text: string, layout: WindowLayout): Map<WindowLabel, number> {
  return keepOf(parseKeepEntries(text), layout);
}

/**
 * The layout record `{temps:averages}:windows`: `<first UTC day ms>` → layout. Absent means `1h` for
 * every day, and the default never writes it. A partition's layout is the entry of its day, so every
 * instance derives the same scripts and keys for it.
 */
export class LayoutRecord {
  /** Oldest first. */
  readonly entries: readonly { fromDay: number; layout: WindowLayout }[];

  constructor(hash: Record<string, string>) {
    this.entries = Object.entries(hash)
      .map(([day, layout]) => ({ fromDay: Number(day), layout: WindowLayout.parse(layout) }))
      .sort((a, b) => a.fromDay - b.fromDay);
  }

  /** The layout of the partitions of a UTC day (its midnight in ms). */
  layoutOf(day: number): WindowLayout {
    let layout = WindowLayout.DEFAULT;
    for (const e of this.entries) if (e.fromDay <= day) layout = e.layout;
    return layout;
  }

  /** The newest entry's layout: what a starting aggregator must run. */
  get newest(): WindowLayout {
    return this.entries.at(-1)?.layout ?? WindowLayout.DEFAULT;
  }
}
