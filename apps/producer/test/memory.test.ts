import { startProducer } from '@pipe/fixtures';
import { procStatusKiB, randomPrefix, sleep } from '@pipe/testkit';
import { describe, expect, inject, it } from 'vitest';

const redisUrl = inject('redisUrl');

/** `lines` generated readings as NDJSON, a thousand lines per chunk. */
async function* generatedInput(lines: number): AsyncGenerator<string> {
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < lines; i += 1000) {
    let chunk = '';
    for (let j = i; j < Math.min(i + 1000, lines); j++) {
      chunk += `{"device":"dev-${j % 500}","ts":${start + Math.floor(j / 500)},"temp_f":${j % 97},"humidity":${j % 100}}\n`;
    }
    yield chunk;
  }
}

/** Streams `lines` generated readings into `ingest` on stdin; returns the child's peak RSS in KiB. */
async function peakRssOfIngest(
  lines: number,
): Promise<{ code: number | null; rssKiB: number; stdout: string }> {
  const ingest = startProducer(
    ['ingest', '--redis-url', redisUrl, '--prefix', randomPrefix('producer'), '--json'],
    {
      input: generatedInput(lines),
    },
  );
  const pid = ingest.child.pid!;
  let rssKiB = 0;
  // VmHWM is the process's own high-water mark, so sampling it now and then misses no peak.
  const sampler = setInterval(async () => {
    rssKiB = Math.max(rssKiB, await procStatusKiB(pid, 'VmHWM'));
  }, 20);
  // The summary is printed after the last write: sample once more before the process is gone.
  while (!ingest.stdout().includes('}') && ingest.child.exitCode === null) {
    rssKiB = Math.max(rssKiB, await procStatusKiB(pid, 'VmHWM'));
    await sleep(5);
  }
  const { code, stdout } = await ingest.exited;
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
