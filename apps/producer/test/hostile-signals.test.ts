import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionEntries, type ProducerProcess, startProducer, summaryOf } from '@pipe/fixtures';
import { randomPrefix, waitFor } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';

// Issue #14 item 8: the first SIGINT/SIGTERM stops `ingest` whether or not input is arriving, and what
// was read is written before it exits 130.

const redisUrl = inject('redisUrl');
let redis: Redis;
let dir: string;
const helpers: ChildProcess[] = [];

beforeAll(async () => {
  redis = new Redis(redisUrl);
  dir = await mkdtemp(join(tmpdir(), 'producer-signals-'));
});
afterEach(() => {
  for (const helper of helpers.splice(0)) helper.kill('SIGKILL');
});
afterAll(() => redis.disconnect());

const now = Date.now() - 60_000;
const RECORD = `${JSON.stringify({ device: 'sensor-001', ts: now, temp_f: 70 })}\n`;
/** How long the producer may take from the signal to its exit. */
const PROMPT_MS = 5000;

function ingest(prefix: string, flags: string[], input?: AsyncIterable<string>): ProducerProcess {
  // At debug level the producer says when its signal handling is in place ('reading input').
  return startProducer(['ingest', '--redis-url', redisUrl, '--prefix', prefix, '--json', ...flags], {
    input,
    env: { LOG_LEVEL: 'debug' },
  });
}

/**
 * Sends `signal` once the producer answers signals and has had time to read what is there, and times
 * its exit. Waiting for the line rather than a fixed time: on a loaded machine node's start-up alone
 * took longer than the 1.5 s this used to wait, and the signal found no handler yet.
 */
async function stopWith(run: ProducerProcess, signal: NodeJS.Signals) {
  await waitFor(
    'the producer to read its input',
    () => run.stdout().includes('"msg":"reading input"'),
    30_000,
  );
  await sleep(1000);
  const sent = performance.now();
  run.kill(signal);
  const timeout = setTimeout(() => run.kill('SIGKILL'), 20_000);
  const exit = await run.exited;
  clearTimeout(timeout);
  return { ...exit, ms: performance.now() - sent };
}

/** A FIFO, and a shell that writes `text` into it and then holds it open without writing. */
function fifoWriting(name: string, text: string | undefined): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  if (text !== undefined) {
    // One open for both, so the reader never sees the writer go (EOF); exec, so that kill reaches sleep.
    const helper = spawn('sh', ['-c', `exec > "$2"; printf '%s' "$1"; exec sleep 60`, 'sh', text, path], {
      stdio: 'ignore',
    });
    helpers.push(helper);
  }
  return path;
}

describe('item 8: the first signal stops ingest however the input behaves', () => {
  it('--file /dev/zero (one endless line): SIGINT stops it, the line reported once as too long', async () => {
    const run = ingest(randomPrefix('signals'), ['--file', '/dev/zero']);
    const exit = await stopWith(run, 'SIGINT');
    expect(exit.ms, exit.stderr).toBeLessThan(PROMPT_MS);
    expect(exit.code, exit.stderr).toBe(130);
    expect(exit.stderr).toBe('/dev/zero:1: line too long\n');
    expect(summaryOf(exit)).toMatchObject({ readings: 0, rejected: 1 });
  });

  it('stdin that sends a record and then nothing: SIGTERM writes the record and exits 130', async () => {
    const prefix = randomPrefix('signals');
    async function* recordThenSilence() {
      yield RECORD;
      await sleep(30_000);
    }
    const exit = await stopWith(ingest(prefix, [], recordThenSilence()), 'SIGTERM');
    expect(exit.ms, exit.stderr).toBeLessThan(PROMPT_MS);
    expect(exit.code, exit.stderr).toBe(130);
    expect(summaryOf(exit)).toMatchObject({ readings: 1, stopped: 'interrupted after line 1' });
    expect(await partitionEntries(redis, prefix)).toHaveLength(1);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`--file <fifo> whose writer goes quiet: ${signal} writes the record and exits 130`, async () => {
      const prefix = randomPrefix('signals');
      const fifo = fifoWriting(`quiet-${signal}.fifo`, RECORD);
      const exit = await stopWith(ingest(prefix, ['--file', fifo]), signal);
      expect(exit.ms, exit.stderr).toBeLessThan(PROMPT_MS);
      expect(exit.code, exit.stderr).toBe(130);
      expect(summaryOf(exit)).toMatchObject({ readings: 1 });
      expect(await partitionEntries(redis, prefix)).toHaveLength(1);
    });
  }

  it('--file <fifo> that no writer ever opens: SIGINT exits 130 with nothing written', async () => {
    const fifo = fifoWriting('unopened.fifo', undefined);
    const exit = await stopWith(ingest(randomPrefix('signals'), ['--file', fifo]), 'SIGINT');
    expect(exit.ms, exit.stderr).toBeLessThan(PROMPT_MS);
    expect(exit.code, exit.stderr).toBe(130);
    expect(summaryOf(exit)).toMatchObject({ readings: 0 });
  });
});
