// docs/BENCHMARKS.md from the figures one `pnpm bench` run collected (each bench script's BENCH_JSON):
// every number here comes from those figures, except the RU202 course's quoted time, labelled as such.

/** The RU202 course's time for its reference job (10 days x 1 reading/s), quoted, never measured here. */
const RU202_REFERENCE_SECONDS = 230;

const int = (n) => Math.round(n).toLocaleString('en-US');
const secs = (s) => s.toFixed(2);
const ratio = (r) => r.toFixed(2);
const mib = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`;

/** A Markdown table; the first column left-aligned, the figures right-aligned unless `left`. */
function table(header, rows, { left = false } = {}) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i === 0 || left ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

function writes({ producer, aggregator }) {
  const { redisBenchmark: ceiling, barePipeline: bare } = producer;
  const { readings, backfill } = aggregator.endToEnd;
  const row = (name, perSecond) => [
    name,
    int(perSecond),
    ratio(perSecond / ceiling),
    ratio(perSecond / bare),
  ];
  return `## Writes: the producer beside the XADD ceiling

${int(producer.readings)} readings of ${producer.devices} devices per contender, each on the same freshly
emptied redis-server. \`redis-benchmark\` sends 128 commands per round trip to 100,000 random stream keys
(\`-P 128 -r 100000 XADD bench:__rand_int__ * temp_f 50\`): the server's ceiling for single XADD commands here.
\`PartitionWriter\` (under \`ingest\` and \`backfill\`) sends each batch as one script call per partition, the
XADDs running inside Redis, which is how it can pass a pipeline of single XADDs.

${table(
  ['writer', 'readings/s', '/ redis-benchmark', '/ bare pipeline'],
  [
    row('`redis-benchmark -P 128` XADD', ceiling),
    row('bare ioredis pipeline, 1000 XADDs per round trip', bare),
    row('`PartitionWriter.write`, 1000 per batch (the producer write path, in-process)', producer.writer),
    row('`pipe-producer ingest` of an NDJSON file (process; rate from its summary)', producer.ingest),
    row('`pipe-producer ingest`, process start included', producer.ingestWithStart),
    row(
      `\`pipe-producer backfill\` (process, start included; the end-to-end job below: ${int(readings)} readings, 1 device)`,
      readings / backfill.seconds,
    ),
  ],
)}`;
}

function library({ streams }) {
  const row = (name, c) => [name, int(c.readingsPerSecond), c.cpuMicrosPerReading.toFixed(2)];
  return `## Library: \`Stream.addMany\` beside a bare pipeline

${int(streams.readings)} readings per contender and round (${streams.rounds} round), ${streams.chunk} XADDs per
round trip, the two taking turns slice by slice on one redis-server.

${table(
  ['writer', 'readings/s', 'client CPU µs/reading'],
  [row('`Stream.addMany` (@pipe/streams)', streams.library), row('bare ioredis pipeline', streams.bare)],
)}

\`Stream.addMany\` / bare: ${ratio(streams.library.readingsPerSecond / streams.bare.readingsPerSecond)} (readings/s),
${ratio(streams.library.cpuMicrosPerReading / streams.bare.cpuMicrosPerReading)} (client CPU).`;
}

function consumption({ aggregator }) {
  const { readings, bare, aggregator: agg } = aggregator.consumption;
  const bareRate = readings / bare.seconds;
  const row = (name, seconds) => [
    name,
    secs(seconds),
    int(readings / seconds),
    ratio(bare.seconds / seconds),
  ];
  return `## Consumption: the aggregator beside a bare consumer-group loop

${int(readings)} readings of 10 devices in daily partitions, read once by each through its own consumer group.
The bare loop is timed from its first read, with its connection open; the aggregator's own figure (its
\`drained\` log line) from the start of its run to its last hour published, so the two loops compare;
the process row adds Node's start-up and module loading.

${table(
  ['consumer', 'seconds', 'readings/s', '/ bare loop'],
  [
    ['bare `XREADGROUP COUNT 1000` + one `XACK` per batch', secs(bare.seconds), int(bareRate), ratio(1)],
    row(`\`pipe-aggregator run --drain\`, its own figure (${agg.hours} hours published)`, agg.drainSeconds),
    row(
      `\`pipe-aggregator run --drain\`, the process from spawn to exit (peak RSS ${mib(agg.peakRss)})`,
      agg.seconds,
    ),
  ],
)}`;
}

function endToEnd({ aggregator }) {
  const { readings, days, backfill, drain } = aggregator.endToEnd;
  const total = backfill.seconds + drain.seconds;
  const step = (name, s, rss) => [name, secs(s), int(readings / s), rss === undefined ? '' : mib(rss)];
  return `## The reference-sized job end to end

${days} days x 1 reading/s = ${int(readings)} readings (the RU202 exercise's size): \`pipe-producer backfill\`
writes them, then \`pipe-aggregator run --drain\` publishes every hour, both real processes on one
redis-server, timed from spawn to exit.

${table(
  ['step', 'seconds', 'readings/s', 'peak RSS'],
  [
    step('`pipe-producer backfill --devices 1 --interval 1s`', backfill.seconds, backfill.peakRss),
    step(`\`pipe-aggregator run --drain --keep-hours ${days * 24}\``, drain.seconds, drain.peakRss),
    step('total', total),
  ],
)}

Checked after the drain: ${drain.hours} hourly averages over ${int(readings)} readings (\`--keep-hours\` keeps
them all so they can be counted). The RU202 course quotes
about ${RU202_REFERENCE_SECONDS} s for this job (a reference, not measured here); this run's total is
${ratio(RU202_REFERENCE_SECONDS / total)}x shorter.`;
}

function reaper({ reaper: r }) {
  const rate = (entries, s) => int(entries / s);
  return `## Reaper: recovery beside a bare \`XAUTOCLAIM\` loop

Pending entries of a dead consumer, idle past ${r.minIdleMs} ms; the baseline is \`XAUTOCLAIM … COUNT 1000 JUSTID\`
over the same number of entries. Each measured twice, interleaved with its baseline, keeping the faster.

${table(
  ['work', 'entries', 'reaper entries/s', 'bare XAUTOCLAIM entries/s', 'reaper / bare'],
  [
    [
      'reclaim: idle entries claimed for a live consumer',
      int(r.reclaim.entries),
      rate(r.reclaim.entries, r.reclaim.reaper),
      rate(r.reclaim.entries, r.reclaim.bare),
      ratio(r.reclaim.bare / r.reclaim.reaper),
    ],
    [
      `dead-letter: entries delivered ${r.maxDeliveries} times, moved to the dead-letter stream`,
      int(r.deadLetter.entries),
      rate(r.deadLetter.entries, r.deadLetter.reaper),
      rate(r.deadLetter.entries, r.deadLetter.bare),
      ratio(r.deadLetter.bare / r.deadLetter.reaper),
    ],
  ],
)}

Dead-lettering the naive way (pipelined \`XRANGE\`, \`XADD\` to the dead-letter stream, \`XACK\`; not atomic, no
re-checks): ${rate(r.deadLetter.entries, r.deadLetter.naive)} entries/s; the reaper does ${ratio(r.deadLetter.naive / r.deadLetter.reaper)}x that.`;
}

function shards({ shards: s }) {
  const row = (name, r) => {
    if (r.unavailable) return [name, `not available: ${r.unavailable}`, '', '', '', ''];
    const { backfill, drain } = r;
    return [
      name,
      secs(backfill.seconds),
      int(s.readings / backfill.seconds),
      secs(drain.seconds),
      int(s.readings / drain.seconds),
      secs(backfill.seconds + drain.seconds),
    ];
  };
  const rows = [
    row('1 shard, one redis-server', s.single),
    row(`${s.shards} shards, ${s.shards}-master cluster`, s.sharded),
  ];
  if (!s.sharded.unavailable) {
    const total = (r) => r.backfill.seconds + r.drain.seconds;
    const faster = (step) => ratio(s.single[step].seconds / s.sharded[step].seconds);
    const fasterTotal = ratio(total(s.single) / total(s.sharded));
    rows.push(['cluster / single (readings/s)', '', faster('backfill'), '', faster('drain'), fasterTotal]);
  }
  const spread = s.sharded.partitionsPerMaster
    ? `\n\nPartition streams (shards of each day) per master after the cluster run: ${s.sharded.partitionsPerMaster.join(' / ')}.`
    : '';
  return `## 1 shard on one server versus ${s.shards} shards on a ${s.shards}-master cluster

The same job on each: ${int(s.readings)} readings (${s.devices} device${s.devices === 1 ? '' : 's'} x 1 reading/s x 1 day, ${s.hours} hours),
\`pipe-producer backfill\` then \`pipe-aggregator run --drain\`, real processes, checked after the drain.
The cluster's masters run on this same machine and share its cores, so this shows what cluster mode costs,
not how it scales: on separate hosts each master takes a third of the writes (one shard each).

${table(['setup', 'backfill s', 'backfill readings/s', 'drain s', 'drain readings/s', 'total s'], rows)}${spread}`;
}

function durability({ producer, aggregator }) {
  const p = producer.replicated;
  const a = aggregator.replicated;
  const drainRate = (r) => a.readings / r.drainSeconds;
  const row = (name, plain, waited, waits) => [
    name,
    int(plain),
    int(waited),
    ratio(waited / plain),
    int(waits),
  ];
  return `## Durability: \`--wait-replicas 1\` beside the default, on a master with one replica

A master and one replica (\`redis-server --replicaof\`, its link up and caught up before each run) on this
same machine; each CLI run twice with the default (no \`WAIT\`) and twice with \`--wait-replicas 1\`, in the
order default, wait, wait, default, keeping the faster of each. The producer \`WAIT\`s after each batch it
writes, the aggregator around each hour it closes (and after outbox forwards, none here); the WAITs column
counts those the master ran (\`INFO commandstats\`) in the kept \`--wait-replicas 1\` run.

${table(
  ['CLI and work', 'default readings/s', '`--wait-replicas 1` readings/s', 'wait / default', 'WAITs'],
  [
    row(
      `\`pipe-producer ingest\` of an NDJSON file of the first ${int(p.readings)} of the readings above (${producer.devices} devices; its summary's rate)`,
      p.default,
      p.waitReplicas1,
      p.waits,
    ),
    row(
      `\`pipe-aggregator run --drain\` of ${int(a.readings)} readings from \`pipe-producer backfill\` (1 device x 1 reading/s x ${a.days} days, ${a.hours} hours; its own figure)`,
      drainRate(a.default),
      drainRate(a.waitReplicas1),
      a.waitReplicas1.waits,
    ),
  ],
)}

For comparison, the ingest of all ${int(producer.readings)} readings on one server without a replica (above): ${int(producer.ingest)} readings/s.
The drains as processes, from spawn to exit: ${secs(a.default.seconds)} s with the default,
${secs(a.waitReplicas1.seconds)} s with \`--wait-replicas 1\`.`;
}

function devices({ devices }) {
  const { http, mqtt } = devices;
  return `## Readings from devices: HTTP endpoint and MQTT bridge beside bare baselines

HTTP: ${int(http.readings)} readings in ${int(http.perRequest)}-reading NDJSON requests from ${http.concurrency} clients. MQTT:
${int(mqtt.messages)} QoS 1 messages of one reading each, published by ${mqtt.publishers ?? 1} MQTT.js client(s) through a real mosquitto
(best of ${mqtt.rounds?.length ?? 1} round(s) each). Rates run from the first request or publish until every reading is in Redis; the
target is 0.8 of the baseline.

${table(
  ['path', 'readings/s', '/ baseline'],
  [
    ['bare `node:http` handler pipelining XADDs', int(http.bare), ratio(1)],
    [
      '`pipe-producer http` (validation, partitions, ledger, 200 after the write)',
      int(http.endpoint),
      ratio(http.endpoint / http.bare),
    ],
    ['bare MQTT.js subscriber pipelining XADDs (acks on arrival)', int(mqtt.bare), ratio(1)],
    [
      '`pipe-producer mqtt` (PUBACK after the write; the messages in hand written together)',
      int(mqtt.bridge),
      ratio(mqtt.bridge / mqtt.bare),
    ],
  ],
)}`;
}

function windows({ windows: w }) {
  const rate = (run) => w.readings / run.drainSeconds;
  const bare = w.readings / w.bare.seconds;
  const m = w.memory;
  return `## Windows and per-device results beside the bare consumer-group loop

${int(w.readings)} readings of ${int(w.devices)} devices (one every 10 s each, with humidity) over ${w.minutes} minutes of one UTC
day, copied server-side for each consumer; each drain is a real \`pipe-aggregator run --drain\`, rated by its
own figure (start of its run to the last window published). The bare loop and the default drain run
before and after the windows drain, the faster of each kept.

${table(
  ['consumer', 'readings/s', '/ baseline', 'target'],
  [
    ['bare XREADGROUP COUNT 1000 + XACK per batch', int(bare), ratio(1), ''],
    ['drain, default (fleet 1h only)', int(rate(w.default)), ratio(rate(w.default) / bare), '>= 0.85'],
    [
      'drain, `--windows 1m,1h,1d --per-device`',
      int(rate(w.windowsPerDevice)),
      ratio(rate(w.windowsPerDevice) / bare),
      '>= 0.6',
    ],
  ],
)}

Redis memory, measured: ${m.perResultSteady.toFixed(1)} B per stored per-device result in a stream that holds many
(used_memory growth for 250 more results in each of 1,000 device streams) plus ${m.perStream.toFixed(0)} B per device
stream; ${m.indexPerDevice.toFixed(0)} B per device in the index; while windows are open,
${m.openWindowBytesPerReading.toFixed(1)} B per reading (MEMORY USAGE of the open window hashes), beside the reading itself.`;
}

function alerter({ alerter: a }) {
  return `## Alerter: rules beside the bare consumer-group loop

${int(a.readings)} readings of ${int(a.devices)} devices in one partition, ${a.rules} rules (threshold with \`for\` and
\`clear\`, below, no data); the baseline is a \`ConsumerLoop\` reading the same COUNT and only acknowledging.
${a.rounds.length} rounds, taking turns, keeping the faster of each.

${table(
  ['contender', 'readings/s', '/ bare loop'],
  [
    ['bare consumer-group loop (read, XACK)', int(a.bare), ratio(1)],
    [
      '`pipe-alerter` drain (state machines in the process, commit-batch-5.lua per batch overlapping the next, then XACK)',
      int(a.alerter),
      ratio(a.alerter / a.bare),
    ],
  ],
)}`;
}

const SECTIONS = [
  writes,
  library,
  consumption,
  endToEnd,
  reaper,
  alerter,
  shards,
  durability,
  devices,
  windows,
];

/** The figures' sections (also printed at the end of the run). */
export function renderFigures(figures) {
  return SECTIONS.map((section) => section(figures)).join('\n\n');
}

/** The whole docs/BENCHMARKS.md. */
export function renderReport({ figures, machine, startedAt, seconds, load }) {
  return `# Benchmarks

Generated by \`pnpm bench\` (\`scripts/bench.mjs\`) on ${startedAt.toISOString()}; the run took ${Math.round(seconds)} s.
Every figure below was measured in that run; nothing is carried over from earlier runs. Each benchmark
starts its own \`redis-server\` processes (no persistence) on free ports, on the same machine as the
clients, and compares each part of pipe with a baseline measured in the same run: the ratios are what to
compare across machines. The machine is shared with other work (1-minute load average ${load.start} at the
start, ${load.end} at the end), so single figures are noisy.

## Machine

${table(
  ['', ''],
  Object.entries(machine).map(([label, value]) => [label, value]),
  { left: true },
)}

${renderFigures(figures)}

## How to rerun

\`\`\`sh
pnpm bench                # every benchmark, then rewrites this file (a few minutes)
pnpm bench aggregator     # one of: streams, producer, aggregator, reaper, alerter, shards, sizing, devices (prints only)
\`\`\`

\`pnpm bench\` builds the workspace first. It needs \`redis-server\`, \`redis-cli\` and \`redis-benchmark\` on the
PATH (Debian: \`apt-get install redis-server redis-tools\`). Each script also runs alone after a build, e.g.
\`node apps/producer/bench/producer.mjs [readings]\`; with \`BENCH_JSON=<file>\` it writes its figures there as
JSON, which is how \`scripts/bench.mjs\` collects them for this report.
`;
}
