// The Redis memory a pipeline needs, from the figures `pnpm bench sizing` measured (docs/sizing.json):
// pure functions, no I/O, so that `pnpm plan` and its tests compute the same thing.

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** How long the aggregator keeps a published hour's sources and a partition's `agg` state past it. */
const WEEK_MS = 7 * DAY_MS;
/** The live simulation's shortest pause between batches (apps/producer/src/live-simulation.ts). */
const RUN_MIN_PAUSE_MS = 100;
/** Open hours of a partition at the worst moment: the hour in progress and the one waiting out --grace. */
const OPEN_HOURS = 2;

/**
 * Readings per producer batch as `pipe-producer run` sends them: every device's reading of one
 * interval, or of every interval in its shortest pause, as long as the batch is under --batch-size.
 */
export function runBatchReadings(devices, intervalMs, batchSize = 1000) {
  const steps = Math.max(1, Math.floor(RUN_MIN_PAUSE_MS / intervalMs));
  return Math.min(devices * steps, devices * Math.max(1, Math.ceil(batchSize / devices)));
}

/** Steps k with a <= k * interval < b: readings of one device in [a, b). */
const steps = (a, b, interval) => Math.max(0, Math.ceil(b / interval) - Math.ceil(a / interval));

/**
 * The keys that exist `t` ms into a UTC day (0 <= t < DAY_MS) once the pipeline has run longer than
 * its retention: one reading per device every interval (times on whole intervals, as the producer's
 * simulation takes them), each day's partition expiring `retention` after its newest reading.
 */
export function keysAt(input, t) {
  const { devices, intervalMs, retentionMs, keepHours } = input;
  const days = [];
  const oldest = -Math.ceil((retentionMs + keepHours * HOUR_MS + WEEK_MS) / DAY_MS) - 2;
  for (let d = oldest; d <= 0; d++) {
    const start = d * DAY_MS;
    const end = d === 0 ? t + 1 : start + DAY_MS; // today: the readings up to now
    const count = steps(start, end, intervalMs);
    if (count === 0) continue;
    const newest = (Math.ceil(end / intervalMs) - 1) * intervalMs;
    const expiresAt = newest + retentionMs;
    days.push({
      day: d,
      readings: count * devices,
      live: expiresAt > t,
      // The aggregator's `agg` hash outlives its partition by --keep-hours plus a week.
      stateLive: expiresAt + keepHours * HOUR_MS + WEEK_MS > t,
    });
  }
  return days;
}

/** Whether a window's totals for `devices` devices fit a listpack (the server's limit), else a hash table. */
const smallWindow = (figures, devices) =>
  devices + figures.hour.fieldsBesideDevices <= figures.config['hash-max-listpack-entries'];

/** Bytes of one open hour's totals for `devices` devices (a listpack up to the server's limit). */
function hourBytes(figures, devices) {
  const f = smallWindow(figures, devices) ? figures.hour.listpack : figures.hour.hashtable;
  return f.perKey + f.perDevice * devices;
}

/**
 * Bytes of a settled window's totals (settle-window-n.lua writes them anew without the devices, a listpack):
 * the hour's fields, or with other sizes or --per-device the spread and times too (tiers.settledWindow).
 */
function settledBytes(figures, input) {
  const windowed = (input.windows?.length ?? 1) > 1 || input.perDevice;
  return windowed ? figures.tiers.settledWindow : hourBytes(figures, 0);
}

/**
 * Results a capped stream holds at steady state: `keep` of windows, plus the trim's slack (`MINID ~`
 * and `MAXLEN ~` drop whole nodes only), half a node on average.
 */
function keptResults(figures, keepMs, sizeMs) {
  return keepMs / sizeMs + figures.config['stream-node-max-entries'] / 2;
}

/**
 * Bytes of `--windows` other than 1h and of `--per-device` (nothing for the default layout): the fleet
 * streams of other sizes and their windows' sources, each device's stream of every size and its place in the index, and the
 * windows' state in each partition (open windows of other sizes; with --per-device the open windows of
 * every size hold each device's totals; settled windows of other sizes while their partition lives).
 * `input.windows`: [{ ms, keepMs, hour }] of every size, 1h included; `livePartitions`: days whose
 * partitions exist.
 */
export function windowsBytes(input, figures, livePartitions) {
  const { devices, shards, windows = [], perDevice = false } = input;
  const perShard = Math.ceil(devices / shards);
  const others = windows.filter((w) => !w.hour);
  const bytes = { windows: 0, devices: 0, windowState: 0 };
  for (const w of others) {
    // Each published window's sources are kept as long as the hour's (--keep-hours plus a week).
    const sources = (input.keepHours * HOUR_MS + WEEK_MS) / w.ms;
    bytes.windows +=
      keptResults(figures, w.keepMs, w.ms) * figures.tiers.fleetResult + sources * figures.sources.perKey;
    // Settled windows keep their totals, listed in a sorted set per size, while the partition lives.
    const settled = settledBytes(figures, input) + figures.tiers.settledIndex;
    bytes.windowState += livePartitions * shards * (DAY_MS / w.ms) * settled;
    if (!perDevice) bytes.windowState += OPEN_HOURS * shards * hourBytes(figures, perShard);
  }
  if (perDevice) {
    for (const w of windows) {
      // A window that holds one reading per device stores its short figures (count 1, stddev 0).
      const result =
        input.intervalMs >= w.ms ? figures.tiers.deviceResultOneReading : figures.tiers.deviceResult;
      bytes.devices += devices * (keptResults(figures, w.keepMs, w.ms) * result + figures.tiers.deviceStream);
      // Each device's totals in its open windows of every size, instead of its name alone (hourBytes).
      bytes.windowState += OPEN_HOURS * devices * figures.tiers.openDeviceWindow;
      if (w.hour) bytes.windowState -= OPEN_HOURS * shards * hourBytes(figures, perShard);
    }
    bytes.devices += devices * figures.tiers.devicesIndex;
  }
  return bytes;
}

/** Bytes by kind of key `t` ms into the day; `perReading` overrides the partitions' figure (a range). */
export function memoryAt(input, figures, t, perReading = figures.stream.perReading) {
  const { devices, shards, keepHours, batchReadings } = input;
  const days = keysAt(input, t);
  const live = days.filter((d) => d.live);
  const readingsKept = live.reduce((sum, d) => sum + d.readings, 0);
  const perShardBatch = Math.max(1, batchReadings / shards);
  const { stream, ledger } = figures;
  const bytes = {
    partitions: live.length * shards * stream.perKey + readingsKept * perReading,
    ledgers:
      live.length * shards * ledger.perKey +
      readingsKept * ledger.perReading +
      (readingsKept / perShardBatch) * ledger.perBatch,
    aggregatorState:
      days.filter((d) => d.stateLive).length * shards * figures.agg.perKey +
      shards * figures.open.perKey +
      OPEN_HOURS * shards * hourBytes(figures, Math.ceil(devices / shards)) +
      // Settled hours keep their totals without devices while their partition lives (settle-window-n.lua),
      // listed in a sorted set like the open hours.
      live.length * shards * (24 * settledBytes(figures, input) + figures.open.perKey),
    averages:
      (keepHours + figures.averages.entriesPerNode) * figures.averages.perEntry +
      (keepHours + WEEK_MS / HOUR_MS) * figures.sources.perKey,
    functions: figures.fixed,
  };
  const tiers = windowsBytes(input, figures, live.length);
  bytes.aggregatorState += tiers.windowState;
  bytes.windows = tiers.windows;
  bytes.devices = tiers.devices;
  const keys = Object.values(bytes).reduce((a, b) => a + b, 0);
  return { t, partitions: live.length, readingsKept, bytes, total: keys + figures.emptyServer };
}

/**
 * The plan: the least and the peak of the day (evaluated every minute and just before each partition
 * expires), and the peak again with the largest bytes per reading the bench measured.
 */
export function plan(input, figures) {
  const candidates = new Set([0, DAY_MS - 1]);
  for (let t = 0; t < DAY_MS; t += MINUTE_MS) candidates.add(t);
  for (const d of keysAt(input, DAY_MS - 1)) {
    // Just before a partition expires, mapped into today.
    const newest = (Math.ceil(((d.day + 1) * DAY_MS) / input.intervalMs) - 1) * input.intervalMs;
    const expiry = (((newest + input.retentionMs) % DAY_MS) + DAY_MS) % DAY_MS;
    candidates.add(expiry);
    candidates.add((expiry + DAY_MS - 1) % DAY_MS);
  }
  let peak;
  let least;
  for (const t of candidates) {
    const m = memoryAt(input, figures, t);
    if (!peak || m.total > peak.total) peak = m;
    if (!least || m.total < least.total) least = m;
  }
  const high = memoryAt(input, figures, peak.t, figures.stream.perReadingRange[1]);
  return {
    input,
    readingsPerDay: (DAY_MS / input.intervalMs) * input.devices,
    peak,
    least,
    peakHigh: high.total,
    perReading: {
      partitions: figures.stream.perReading,
      ledgers:
        figures.ledger.perReading + figures.ledger.perBatch / Math.max(1, input.batchReadings / input.shards),
    },
  };
}

/**
 * How a plan compares with servers' memory (redisMemory of @pipe/streams: one entry per master). Each
 * master carries its share of the shards (the fullest one counts), the functions and its own baseline.
 */
export function compare(result, figures, masters, readyRatio) {
  const { shards } = result.input;
  const share = Math.ceil(shards / masters.length) / shards;
  // Device streams spread over every master by their device's slot, whatever the shards.
  const devices = result.peak.bytes.devices;
  const keys = result.peakHigh - figures.emptyServer - figures.fixed - devices;
  const need = figures.emptyServer + figures.fixed + keys * share + devices / masters.length;
  const recommended = Math.ceil(need / readyRatio);
  return masters.map((m) => ({
    ...m,
    need,
    recommended,
    fits: m.maxBytes === 0 ? undefined : need <= m.maxBytes * readyRatio,
    headroom: m.maxBytes === 0 ? undefined : (m.maxBytes - need) / m.maxBytes,
  }));
}
