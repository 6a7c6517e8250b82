#!/usr/bin/env node
// `pnpm plan [--devices N] [--interval 1s] [--retention 2d] [--shards N] [--keep-hours 120] [--batch-size N]
// [--windows 1m,1h,1d] [--per-device] [--keep 1m=12h,...] [--json] [--redis-url <url> | --cluster-nodes <list>]`: the Redis memory a pipeline of that size needs,
// from the figures `pnpm bench sizing` measured (docs/sizing.json), and with a server, how it compares to
// each master's maxmemory. The model is scripts/plan/model.mjs.
import { readFileSync } from 'node:fs';
import {
  configFrom,
  connectionOptions,
  connectionSchema,
  formatDuration,
  parseDuration,
} from '@pipe/service';
import { connect, parseKeep, redisMemory, WindowLayout } from '@pipe/streams';
import { compare, DAY_MS, plan, runBatchReadings } from './plan/model.mjs';

const USAGE = `usage: pnpm plan [--devices N] [--interval 1s] [--retention 2d] [--shards N] [--keep-hours N]
                 [--batch-size N] [--windows 1m,1h,1d] [--per-device] [--keep 1m=12h,1h=30d,1d=400d]
                 [--json] [--redis-url <url> | --cluster-nodes host:port,...]
                 [--tls-ca <file> --tls-cert <file> --tls-key <file>] [--memory-ready-ratio 0.9]

The Redis memory pipe needs for --devices devices (default 3) each sending a reading every --interval
(default 1s), kept --retention (default 2d, the producer's), in --shards streams per day (default 1), with
--keep-hours hourly averages (default 120, the aggregator's). --batch-size: readings per producer batch
(default: as \`pipe-producer run\` sends them; \`ingest\` and \`backfill\` send 1000). --windows,
--per-device and --keep as the aggregator takes them: the fleet's other sizes, every device's results of
every size (at steady state: each tier holds its --keep), the windows' state. With --redis-url or
--cluster-nodes it reads each master's used_memory, maxmemory and policy and says whether the need fits.
Figures: docs/sizing.json, measured by \`pnpm bench sizing\`. Exit 2 on invalid flags.`;

const FLAGS = {
  devices: 'value',
  interval: 'value',
  retention: 'value',
  shards: 'value',
  keepHours: 'value',
  batchSize: 'value',
  json: 'switch',
  help: 'switch',
  redisUrl: 'value',
  clusterNodes: 'value',
  tlsCa: 'value',
  tlsCert: 'value',
  tlsKey: 'value',
  memoryReadyRatio: 'value',
  windows: 'value',
  perDevice: 'switch',
  keep: 'value',
};

/** The flags, or every problem with them. */
function parseFlags(argv) {
  const problems = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s) : [undefined];
    const key = name?.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!key || !FLAGS[key]) {
      problems.push(`unknown argument: ${arg}`);
      continue;
    }
    if (FLAGS[key] === 'switch') flags[key] = true;
    else if (inline !== undefined) flags[key] = inline;
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags[key] = argv[++i];
    else problems.push(`--${name}: needs a value`);
  }
  const int = (key, fallback, max) => {
    if (flags[key] === undefined) return fallback;
    const n = Number(flags[key]);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      problems.push(`--${kebab(key)}: a whole number from 1 to ${max}, not ${flags[key]}`);
      return undefined;
    }
    return n;
  };
  const ms = (key, fallback) => {
    if (flags[key] === undefined) return fallback;
    const value = parseDuration(flags[key]);
    if (value === undefined || !Number.isInteger(value) || value < 1) {
      problems.push(
        `--${kebab(key)}: a duration of whole milliseconds (500ms, 1s, 1m, 36h, 2d), not ${flags[key]}`,
      );
      return undefined;
    }
    return value;
  };
  const input = {
    devices: int('devices', 3, 10_000_000),
    intervalMs: ms('interval', 1000),
    retentionMs: ms('retention', 2 * DAY_MS),
    shards: int('shards', 1, 1024),
    keepHours: int('keepHours', 120, 1_000_000),
    batchSize: int('batchSize', undefined, 5000),
  };
  if (input.intervalMs && input.retentionMs && input.intervalMs >= input.retentionMs)
    problems.push('--interval: must be shorter than --retention');
  if (input.retentionMs > 3650 * DAY_MS) problems.push('--retention: at most 3650d');
  const layout = attempt(problems, '--windows', () =>
    WindowLayout.parse(flags.windows ?? '1h').withPerDevice(flags.perDevice === true),
  );
  const keep = layout && attempt(problems, '--keep', () => parseKeep(flags.keep ?? '', layout));
  if (keep) {
    input.perDevice = layout.perDevice;
    input.windows = layout.sizes.map((size) => ({
      label: size.label,
      ms: size.ms,
      keepMs: keep.get(size.label),
      hour: size.label === '1h',
    }));
  }
  return { flags, input, problems };
}

/** What `parse` returns, or undefined with its error's message among the problems. */
function attempt(problems, flag, parse) {
  try {
    return parse();
  } catch (err) {
    problems.push(`${flag}: ${err.message}`);
    return undefined;
  }
}

const kebab = (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function bytes(n) {
  let i = 0;
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`;
}
/** A maxmemory value Redis takes, rounded up: `12gb`, `300mb`. */
function redisSize(n) {
  return n >= 2 ** 30 ? `${Math.ceil(n / 2 ** 30)}gb` : `${Math.ceil(n / 2 ** 20)}mb`;
}
const int = (n) => Math.round(n).toLocaleString('en-US');
const clock = (t) => new Date(t).toISOString().slice(11, 19);

function render(result, figures, servers) {
  const { input, peak, least } = result;
  const lines = [];
  lines.push(
    `pipe plan: ${int(input.devices)} devices, one reading each per ${formatDuration(input.intervalMs)} (${int(result.readingsPerDay)} readings a day), retention ${formatDuration(input.retentionMs)}, ${input.shards} shard${input.shards === 1 ? '' : 's'} a day, --keep-hours ${input.keepHours}, ${int(input.batchReadings)} readings per producer batch`,
  );
  if (input.windows.length > 1 || input.perDevice)
    lines.push(
      `windows ${input.windows.map((w) => w.label).join(',')}${input.perDevice ? ' per device' : ''}, kept ${input.windows.map((w) => `${w.label}=${formatDuration(w.keepMs)}`).join(',')}${input.perDevice ? '' : ' (1h: --keep-hours)'}`,
    );
  lines.push(
    `figures: docs/sizing.json, measured ${figures.measured.slice(0, 10)} by \`${figures.command}\` on redis ${figures.redisVersion}`,
  );
  lines.push('');
  lines.push(
    `readings kept: ${int(peak.readingsKept)} at the peak (${clock(peak.t)} UTC, ${peak.partitions} day partitions), ${int(least.readingsKept)} at the least (${clock(least.t)} UTC)`,
  );
  lines.push('');
  const per = (kind) =>
    kind === 'partitions' || kind === 'ledgers' ? result.perReading[kind].toFixed(1) : '';
  const rows = [
    ['partitions', 'day partitions (streams, consumer group)'],
    ['ledgers', 'batch ledgers (producer)'],
    ['aggregatorState', 'aggregator state (agg, open windows)'],
    ['averages', 'averages stream and sources'],
    ...(input.windows.length > 1 ? [['windows', 'fleet streams of other sizes']] : []),
    ...(input.perDevice ? [['devices', 'per-device results and index']] : []),
    ['functions', 'functions, bookkeeping'],
  ];
  lines.push(
    `${'key kind'.padEnd(42)} ${'B/reading'.padStart(10)} ${'at peak'.padStart(11)} ${'at least'.padStart(11)}`,
  );
  for (const [kind, label] of rows)
    lines.push(
      `${label.padEnd(42)} ${per(kind).padStart(10)} ${bytes(peak.bytes[kind]).padStart(11)} ${bytes(least.bytes[kind]).padStart(11)}`,
    );
  lines.push(
    `${'empty server'.padEnd(42)} ${''.padStart(10)} ${bytes(figures.emptyServer).padStart(11)} ${bytes(figures.emptyServer).padStart(11)}`,
  );
  lines.push(
    `${'total (used_memory)'.padEnd(42)} ${''.padStart(10)} ${bytes(peak.total).padStart(11)} ${bytes(least.total).padStart(11)}`,
  );
  lines.push('');
  lines.push(
    `peak with the most bytes per reading measured (${figures.stream.perReadingRange[1]} B in a partition): ${bytes(result.peakHigh)}`,
  );
  lines.push(
    `maxmemory for it with room below --memory-ready-ratio ${input.readyRatio}: at least ${redisSize(result.peakHigh / input.readyRatio)} (policy noeviction)`,
  );
  for (const s of servers ?? []) {
    lines.push('');
    const head = `${s.node}: used ${bytes(s.usedBytes)}, maxmemory ${s.maxBytes ? bytes(s.maxBytes) : 'none'}, policy ${s.policy}`;
    lines.push(head);
    if (s.fits === undefined)
      lines.push(
        `  no maxmemory: Redis may take all of the host's memory; set maxmemory ${redisSize(s.recommended)} or more`,
      );
    else if (s.fits)
      lines.push(
        `  fits: needs ${bytes(s.need)}, ${Math.round((s.need / s.maxBytes) * 100)} % of maxmemory (${Math.round(s.headroom * 100)} % headroom)`,
      );
    else
      lines.push(
        `  does not fit: needs ${bytes(s.need)}, ${Math.round((s.need / s.maxBytes) * 100)} % of maxmemory (ready while under ${Math.round(input.readyRatio * 100)} %); set maxmemory ${redisSize(s.recommended)} or more`,
      );
    if (s.policy !== 'noeviction') lines.push(`  policy ${s.policy} may evict pipeline keys: use noeviction`);
  }
  lines.push('');
  lines.push(
    'not counted: late, dead-letter and alert streams, entries pending with consumers, replication backlog, client and AOF buffers, fragmentation (RSS above used_memory)',
  );
  return lines.join('\n');
}

const { flags, input, problems } = parseFlags(process.argv.slice(2));
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
let connection;
try {
  if (flags.memoryReadyRatio !== undefined || flags.redisUrl || flags.clusterNodes)
    connection = configFrom(connectionSchema, {
      redisUrl: flags.redisUrl,
      clusterNodes: flags.clusterNodes,
      tlsCa: flags.tlsCa,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      memoryReadyRatio: flags.memoryReadyRatio,
    });
} catch (err) {
  problems.push(...(err.problems ?? [err.message]));
}
if (problems.length > 0) {
  process.stderr.write(`plan: invalid flags:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${USAGE}\n`);
  process.exit(2);
}

const figures = JSON.parse(readFileSync(new URL('../docs/sizing.json', import.meta.url), 'utf8'));
input.batchReadings = input.batchSize ?? runBatchReadings(input.devices, input.intervalMs);
input.readyRatio = connection?.memoryReadyRatio ?? 0.9;
const result = plan(input, figures);

let servers;
if (flags.redisUrl || flags.clusterNodes) {
  const redis = connect({
    ...connectionOptions(connection, 'pipe-plan'),
    redis: { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false },
  });
  redis.on('error', () => {});
  try {
    servers = compare(result, figures, await redisMemory(redis), input.readyRatio);
  } catch (err) {
    process.stderr.write(`plan: cannot read memory from Redis: ${err.message}\n`);
    process.exit(3);
  } finally {
    redis.disconnect();
  }
}

if (flags.json) {
  console.log(
    JSON.stringify({
      ...result,
      servers,
      figures: { measured: figures.measured, command: figures.command, emptyServer: figures.emptyServer },
    }),
  );
} else {
  console.log(render(result, figures, servers));
}
