// The pipeline's own processes as the end-to-end benchmarks run them, and the bare consumer-group loop they are set against: `pipe-producer backfill` and
// `pipe-aggregator run --drain` (the built CLIs), each timed from spawn to exit (process start included,
// as an operator would see it) with its peak RSS sampled from /proc; and the check that a drain published
// every reading written, so that a fast but wrong run cannot pass for a result.
import { fieldsToObject } from '@pipe/streams';
import { RssSampler, startNode } from '@pipe/testkit';

const producerMain = new URL('../../producer/dist/main.js', import.meta.url).pathname;
const aggregatorMain = new URL('../dist/main.js', import.meta.url).pathname;
const HOUR = 3_600_000;
// A stuck process (say, a drain that keeps retrying a failing batch) fails the benchmark instead of hanging it.
const TIMEOUT_MS = 240_000;

/** A process that exited with a status other than 0; its stderr tells a rejected flag from a failure. */
export class ProcessFailed extends Error {
  constructor(name, exit) {
    super(`${name} exited ${exit.code ?? exit.signal}: ${(exit.stderr || exit.stdout).slice(-2000)}`);
    this.stderr = exit.stderr;
  }
}

/**
 * `node <main> <args>` to its exit: wall seconds from spawn, peak RSS in bytes (sampled every 100 ms).
 * SIGKILLed after TIMEOUT_MS.
 */
async function timed(name, main, args) {
  const started = performance.now();
  // JSON logs on stdout whatever the caller's environment: the drain's figures are read from them.
  const run = startNode(main, args, { env: { PIPE_PRETTY_LOGS: '0' } });
  const sampler = new RssSampler(run.child.pid, 100);
  const killer = setTimeout(() => run.kill('SIGKILL'), TIMEOUT_MS);
  const exit = await run.exited;
  const peakRss = Math.max(0, ...sampler.stop().map((s) => s.kib)) * 1024;
  clearTimeout(killer);
  if (exit.code !== 0) throw new ProcessFailed(name, exit);
  return { seconds: (performance.now() - started) / 1000, peakRss, stdout: exit.stdout };
}

/**
 * `pipe-producer backfill --json`; `connection` is ['--redis-url', url] or ['--cluster-nodes', seeds].
 * Resolves with the process's wall time and RSS and the producer's own summary (its rate excludes start-up).
 */
export async function backfill(connection, prefix, flags, expectedReadings) {
  const run = await timed('pipe-producer backfill', producerMain, [
    'backfill',
    ...connection,
    '--prefix',
    prefix,
    '--json',
    ...flags,
  ]);
  const line = run.stdout
    .trim()
    .split('\n')
    .findLast((l) => l.startsWith('{"command"'));
  const summary = JSON.parse(line ?? 'null');
  if (summary?.readings !== expectedReadings) {
    throw new Error(`backfill wrote ${summary?.readings} of ${expectedReadings} readings: ${run.stdout}`);
  }
  return { seconds: run.seconds, peakRss: run.peakRss, summary };
}

/**
 * `pipe-aggregator run --drain` until it exits by itself, having published every hour. Besides the process's
 * wall time, `drainSeconds` is the aggregator's own figure from its `drained` log line: from the start of its
 * run (after Node's start-up and module loading) to the last hour published, and `counted` its readings.
 */
export async function drain(connection, prefix, flags = []) {
  const { seconds, peakRss, stdout } = await timed('pipe-aggregator run --drain', aggregatorMain, [
    'run',
    '--drain',
    ...connection,
    '--prefix',
    prefix,
    '--log-level',
    'info',
    ...flags,
  ]);
  const drained = stdout
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    })
    .findLast((entry) => entry?.msg === 'drained');
  if (typeof drained?.seconds !== 'number')
    throw new Error(`no drained line in the aggregator's log: ${stdout.slice(-2000)}`);
  return { seconds, peakRss, drainSeconds: drained.seconds, counted: drained.readings };
}

/** Hours from the one holding `firstTs` to the one holding `lastTs`, both included. */
export function hoursSpanned(firstTs, lastTs) {
  return Math.floor(lastTs / HOUR) - Math.floor(firstTs / HOUR) + 1;
}

/** Throws unless the averages stream holds exactly `hours` averages over exactly `readings` readings. */
export async function checkAverages(redis, keys, readings, hours) {
  const entries = await redis.xrange(keys.averages, '-', '+');
  const observations = entries.reduce(
    (sum, [, fields]) => sum + Number(fieldsToObject(fields).num_observations),
    0,
  );
  if (entries.length !== hours || observations !== readings) {
    throw new Error(
      `drain published ${entries.length} hours over ${observations} readings; expected ${hours} over ${readings}`,
    );
  }
  return { hours: entries.length, observations };
}

/** The baseline: a bare consumer group read with XREADGROUP COUNT 1000 and XACK per batch, no work. */
export async function bareLoop(redis, partitions) {
  for (const p of partitions) await redis.xgroup('CREATE', p, 'bare', '0');
  let n = 0;
  const started = performance.now();
  for (;;) {
    const reply = await redis.xreadgroup(
      'GROUP',
      'bare',
      'c1',
      'COUNT',
      1000,
      'STREAMS',
      ...partitions,
      ...partitions.map(() => '>'),
    );
    if (!reply) break;
    for (const [stream, entries] of reply) {
      n += entries.length;
      await redis.xack(stream, 'bare', ...entries.map(([id]) => id));
    }
  }
  return { n, seconds: (performance.now() - started) / 1000 };
}
