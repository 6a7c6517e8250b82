import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomPrefix } from '@pipe/testkit';
import { describe, expect, inject, it } from 'vitest';
import { MAIN } from './producer-process.js';

const redisUrl = inject('redisUrl');

/** Streams `lines` generated readings into `ingest` on stdin; returns the child's peak RSS in KiB. */
async function peakRssOfIngest(
  lines: number,
): Promise<{ code: number | null; rssKiB: number; stdout: string }> {
  // GNU time reports the peak resident set size of the process it runs (%M, KiB) on stderr.
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      'peak-rss-kib %M',
      process.execPath,
      MAIN,
      'ingest',
      '--redis-url',
      redisUrl,
      '--prefix',
      randomPrefix('producer'),
      '--json',
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < lines; i += 1000) {
    let chunk = '';
    for (let j = i; j < Math.min(i + 1000, lines); j++) {
      chunk += `{"device":"dev-${j % 500}","ts":${start + Math.floor(j / 500)},"temp_f":${j % 97},"humidity":${j % 100}}\n`;
    }
    if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
  }
  child.stdin.end();
  const [code] = await once(child, 'close');
  const rss = /peak-rss-kib (\d+)/.exec(stderr);
  if (!rss) throw new Error(`no peak RSS in: ${stderr}`);
  return { code, rssKiB: Number(rss[1]), stdout };
}

describe('memory', () => {
  it('stays bounded: ten times the input does not take much more memory', async () => {
    const small = await peakRssOfIngest(40_000);
    const large = await peakRssOfIngest(400_000);
    expect(small.code).toBe(0);
    expect(large.code).toBe(0);
    expect(JSON.parse(large.stdout).readings).toBe(400_000);
    // Holding the input would add hundreds of MB for 400,000 readings; streaming adds next to nothing.
    expect(large.rssKiB).toBeLessThan(small.rssKiB * 1.5);
  });
});
