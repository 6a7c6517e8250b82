import { readingsBetween, writeReadings } from '@pipe/fixtures';
import { connect, DAY_MS, HOUR_MS, PipelineKeys, type RedisClient } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessAggregators } from './in-process.js';

/**
 * The golden keyspace of the default layout (`--windows 1h`): a fixed data set drained with every
 * setting at its default, then every key's kind, type, field names and expiry class, the published
 * figures and the functions the drain loaded. It was committed against the code before windows
 * (#16) existed, so a change to what the default writes, or to the scripts it runs, fails here. One
 * change since was deliberate: the default layout runs the windows scripts with one size (one protocol,
 * not two), so its hour hashes also keep `sq`, `f` and `l`; what it publishes, and every other key, is
 * as before. And a second: accumulate-batch-n.lua no longer takes the alerts stream (--alert-above is
 * retired for pipe-alerter), a new function name with one argument fewer; what it writes is as before.
 * And a third: accumulate-batch-n.lua takes the recount's per-entry values packed as doubles, and adds
 * the hour's devices in one HSET, a new function name again, and it and settle-window-n.lua include
 * their shared Lua (lib/device-totals.lua) where each had a copy; what they write is as before.
 *
 * A server of its own: FUNCTION LIST then names exactly the scripts this drain ran (each is loaded on
 * its first call), and nothing another test file does shows up in the keyspace.
 */
let server: RedisServer;
let redis: RedisClient;
const { drain } = inProcessAggregators();

beforeAll(async () => {
  server = await RedisServer.start();
  redis = connect({ url: server.url });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** A partition expiry no other key has by accident: keys that live as long as it show as `partition`. */
const PARTITION_TTL_MS = 2 * DAY_MS + 37 * 60_000;
/** stateAfterPartitionMs(120): --keep-hours plus a week. */
const KEEP_MS = 120 * HOUR_MS + 7 * DAY_MS;

function ttlClass(pttl: number): string {
  const near = (ms: number) => Math.abs(pttl - ms) < 5 * 60_000;
  if (pttl === -1) return 'none';
  if (near(PARTITION_TTL_MS)) return 'partition';
  if (near(PARTITION_TTL_MS + KEEP_MS)) return 'partition+keep';
  if (near(KEEP_MS)) return 'keep';
  if (near(7 * DAY_MS)) return '7d';
  return `other ${Math.round(pttl / 60_000)} min`;
}

/** A key's kind: the prefix, days, times and devices replaced by what they stand for. */
function kindOf(key: string, prefix: string): string {
  return key
    .replaceAll(prefix, 'P')
    .replace(/\d{13}/g, '<ms>')
    .replace(/\d{8}/g, 'YYYYMMDD');
}

const fieldName = (f: string, prefix: string) => (f.startsWith('d:') ? 'd:<device>' : kindOf(f, prefix));

interface KeyKind {
  type: string;
  ttl: string[];
  fields: string[];
  groups?: string[];
  count: number;
  /** Streams: entries in all keys of the kind. */
  entries?: number;
  /** Late and dead-letter streams: their reasons. */
  reasons?: string[];
}

async function keyspace(keys: PipelineKeys): Promise<Record<string, KeyKind>> {
  const kinds = new Map<
    string,
    {
      type: string;
      ttl: Set<string>;
      fields: Set<string>;
      groups: Set<string>;
      reasons: Set<string>;
      count: number;
      entries: number;
    }
  >();
  const all = await redis.keys('*');
  for (const key of all.sort()) {
    const type = await redis.type(key);
    const kind = `${kindOf(key, keys.prefix)} (${type})`;
    const entry = kinds.get(kind) ?? {
      type,
      ttl: new Set(),
      fields: new Set(),
      groups: new Set(),
      reasons: new Set(),
      count: 0,
      entries: 0,
    };
    kinds.set(kind, entry);
    entry.count++;
    entry.ttl.add(ttlClass(await redis.pttl(key)));
    if (type === 'hash') for (const f of await redis.hkeys(key)) entry.fields.add(fieldName(f, keys.prefix));
    if (type === 'stream') {
      for (const [, fields] of await redis.xrange(key, '-', '+')) {
        entry.entries++;
        for (let i = 0; i < fields.length; i += 2) {
          entry.fields.add(fields[i]!);
          if (fields[i] === 'reason') entry.reasons.add(kindOf(fields[i + 1]!, keys.prefix));
        }
      }
      const groups = (await redis.call('XINFO', 'GROUPS', key)) as unknown[][];
      for (const g of groups) entry.groups.add(String(g[1]));
    }
  }
  return Object.fromEntries(
    [...kinds.entries()].map(([kind, e]) => [
      kind,
      {
        type: e.type,
        ttl: [...e.ttl].sort(),
        fields: [...e.fields].sort(),
        ...(e.groups.size > 0 ? { groups: [...e.groups].sort() } : {}),
        ...(e.reasons.size > 0 ? { reasons: [...e.reasons].sort() } : {}),
        count: e.count,
        ...(e.type === 'stream' ? { entries: e.entries } : {}),
      },
    ]),
  );
}

describe('the default layout (--windows 1h)', () => {
  it('writes today’s keys, fields, expiries and averages, and runs today’s scripts', async () => {
    const keys = new PipelineKeys('golden');
    // Fixed days before today (so the partitions are live), across a UTC midnight, 3 devices every
    // 7 min 30 s (sensor-0 and sensor-2 with humidity), plus one entry that does not decode.
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const from = today - 3 * DAY_MS + 21 * HOUR_MS + 11 * 60_000;
    const readings = readingsBetween(from, from + 5 * HOUR_MS, 450_000, 3, 16);
    await writeReadings(redis, keys, readings);
    await redis.xadd(keys.partitionKeyFor(from), '*', 'device', 'x', 'ts', String(from), 'temp_f', 'hot');
    const partitions = [keys.partitionKeyFor(from), keys.partitionKeyFor(from + 5 * HOUR_MS)];
    for (const p of partitions) await redis.pexpire(p, PARTITION_TTL_MS);
    await drain(keys, {}, { url: server.url });
    // Stragglers of a published hour: late, in no average.
    await writeReadings(redis, keys, readingsBetween(from, from + 2, 1, 2, 17));
    for (const p of partitions) await redis.pexpire(p, PARTITION_TTL_MS);
    await drain(keys, {}, { url: server.url });

    const averages = (await redis.xrange(keys.averages, '-', '+')).map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return `${(Number(id.split('-')[0]) - from) / 60_000} min: ${fields.filter((_, i) => i % 2 === 0).join(' ')} = ${f.hour} ${f.average_temp_f} ${f.num_observations} ${f.min_temp_f} ${f.max_temp_f} ${f.devices} ${f.average_humidity}`;
    });
    expect(averages).toMatchInlineSnapshot(`
      [
        "-11 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 21 62.33428571428571 21 40.79 76.52 3 42.434285714285714",
        "49 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 22 60.31708333333332 24 42.38 78.33 3 45.585",
        "109 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 23 62.85291666666666 24 42.93 79.78 3 44.51812499999999",
        "169 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 0 60.034166666666664 24 40.44 77.34 3 63.26499999999999",
        "229 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 1 62.175416666666656 24 42 78.56 3 48.71562500000001",
        "289 min: date hour average_temp_f num_observations min_temp_f max_temp_f devices average_humidity = 2 67.78 3 45.18 79.9 3 21.48",
      ]
    `);

    expect(await keyspace(keys)).toMatchInlineSnapshot(`
      {
        "P:YYYYMMDD (stream)": {
          "count": 2,
          "entries": 125,
          "fields": [
            "device",
            "humidity",
            "temp_f",
            "ts",
          ],
          "groups": [
            "aggregator",
          ],
          "ttl": [
            "partition",
          ],
          "type": "stream",
        },
        "P:averages (stream)": {
          "count": 1,
          "entries": 6,
          "fields": [
            "average_humidity",
            "average_temp_f",
            "date",
            "devices",
            "hour",
            "max_temp_f",
            "min_temp_f",
            "num_observations",
          ],
          "ttl": [
            "none",
          ],
          "type": "stream",
        },
        "P:dlq (stream)": {
          "count": 1,
          "entries": 1,
          "fields": [
            "consumer",
            "dead_at",
            "deliveries",
            "fields",
            "group",
            "id",
            "idle_ms",
            "reason",
            "stream",
          ],
          "reasons": [
            "temp_f: not a number: "hot"",
          ],
          "ttl": [
            "none",
          ],
          "type": "stream",
        },
        "P:late (stream)": {
          "count": 1,
          "entries": 4,
          "fields": [
            "fields",
            "id",
            "reason",
            "stream",
          ],
          "reasons": [
            "hour <ms> was already closed",
          ],
          "ttl": [
            "none",
          ],
          "type": "stream",
        },
        "{P:YYYYMMDD}:agg (hash)": {
          "count": 2,
          "fields": [
            "group",
            "maxts",
            "sealed",
          ],
          "ttl": [
            "partition+keep",
          ],
          "type": "hash",
        },
        "{P:YYYYMMDD}:hour:<ms> (hash)": {
          "count": 6,
          "fields": [
            "devices",
            "f",
            "hn",
            "hsum",
            "l",
            "max",
            "min",
            "n",
            "settled",
            "sq",
            "sum",
          ],
          "ttl": [
            "partition",
          ],
          "type": "hash",
        },
        "{P:YYYYMMDD}:outbox (stream)": {
          "count": 1,
          "entries": 0,
          "fields": [],
          "ttl": [
            "partition",
          ],
          "type": "stream",
        },
        "{P:YYYYMMDD}:settled (zset)": {
          "count": 2,
          "fields": [],
          "ttl": [
            "partition",
          ],
          "type": "zset",
        },
        "{P:averages}:owner (string)": {
          "count": 1,
          "fields": [],
          "ttl": [
            "none",
          ],
          "type": "string",
        },
        "{P:averages}:sources:<ms> (hash)": {
          "count": 6,
          "fields": [
            "list",
          ],
          "ttl": [
            "keep",
          ],
          "type": "hash",
        },
        "{P:dlq}:forwarded (hash)": {
          "count": 1,
          "fields": [
            "{P:YYYYMMDD}:outbox",
          ],
          "ttl": [
            "7d",
          ],
          "type": "hash",
        },
        "{P:late}:forwarded (hash)": {
          "count": 1,
          "fields": [
            "{P:YYYYMMDD}:outbox",
          ],
          "ttl": [
            "7d",
          ],
          "type": "hash",
        },
      }
    `);

    const functions = (await redis.call('FUNCTION', 'LIST')) as unknown[][];
    expect(functions.map((library) => String(library[1])).sort()).toMatchInlineSnapshot(`
      [
        "pipe_accumulate_batch_n_8ace61f0f30f",
        "pipe_forward_outbox_2_5f26f6360f19",
        "pipe_publish_hour_2_d704094f14ca",
        "pipe_seal_window_n_2ed9a5bee433",
        "pipe_settle_window_n_fe64be6730e1",
      ]
    `);
  });
});
