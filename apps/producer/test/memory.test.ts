import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, inject, it } from 'vitest';
import { MAIN } from './producer-process.js';

const redisUrl = inject('redisUrl');

/** The process's peak resident set size so far (VmHWM, a high-water mark), in KiB; 0 once it is gone. */
async function highWaterKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}

/** Streams `lines` generated readings into `ingest` on stdin; returns the child's peak RSS in KiB. */
async function peakRssOfIngest(
  lines: number,
): Promise<{ code: number | null; rssKiB: number; stdout: string }> {
  const child = spawn(
    process.execPath,
    [MAIN, 'ingest', '--redis-url', redisUrl, '--prefix', randomPrefix('producer'), '--json'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  let rssKiB = 0;
  const sampler = setInterval(async () => {
    rssKiB = Math.max(rssKiB, await highWaterKiB(child.pid!));
  }, 20);
  const closed = once(child, 'close');
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < lines; i += 1000) {
    let chunk = '';
    for (let j = i; j < Math.min(i + 1000, lines); j++) {
      chunk += `{"device":"dev-${j % 500}","ts":${start + Math.floor(j / 500)},"temp_f":${j % 97},"humidity":${j % 100}}\n`;
    }
    if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
  }
  child.stdin.end();
  // The summary is printed after the last write: sample once more before the process is gone.
  while (!stdout.includes('}') && child.exitCode === null) {
    rssKiB = Math.max(rssKiB, await highWaterKiB(child.pid!));
    await new Promise((r) => setTimeout(r, 5));
  }
  const [code] = await closed;
  clearInterval(sampler);
  if (rssKiB === 0) throw new Error('could not read the peak RSS of the ingest process');
  return { code, rssKiB, stdout };
}

describe('memory', () => {
  it('stays bounded: ten times the input does not take much more memory', async () => {
    const small = await peakRssOfIngest(20_000);
    const large = await peakRssOfIngest(200_000);
    expect(small.code).toBe(0);
    expect(large.code).toBe(0);
    expect(JSON.parse(large.stdout).readings).toBe(200_000);
    // Holding the input would add hundreds of MB for 200,000 readings; streaming adds next to nothing.
    expect(large.rssKiB).toBeLessThan(small.rssKiB * 1.5);
  });
});
