import { startProducer } from '@pipe/fixtures';
import type { Reading } from '@pipe/streams';
import { sleep, type TestProcess } from '@pipe/testkit';
import type { Target } from './target.js';

export interface FeedOptions {
  linesPerChunk?: number;
  /** Pause after each chunk: a paced feed keeps the producer writing for a while, as live devices do. */
  pauseMs?: number;
}

/** Input lines as stdin chunks for `pipe-producer ingest`, produced as the producer takes them. */
export async function* feed(
  lines: Iterable<string>,
  { linesPerChunk = 1000, pauseMs = 0 }: FeedOptions = {},
): AsyncGenerator<string> {
  let chunk = '';
  let count = 0;
  for (const line of lines) {
    chunk += `${line}\n`;
    if (++count < linesPerChunk) continue;
    yield chunk;
    chunk = '';
    count = 0;
    if (pauseMs > 0) await sleep(pauseMs);
  }
  if (chunk) yield chunk;
}

/** NDJSON lines of readings, as devices or an export would send them. */
export function* ndjsonLines(readings: Iterable<Reading>): Generator<string> {
  for (const reading of readings) yield JSON.stringify(reading);
}

/** `pipe-producer ingest --json` of the target reading `input` on stdin, as a real process. */
export function startIngest(
  target: Target,
  input: AsyncIterable<string>,
  flags: string[] = [],
  env: NodeJS.ProcessEnv = {},
): TestProcess {
  return startProducer(['ingest', ...target.flags, '--json', ...flags], { input, env });
}
