import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { link, mkdir, mkdtemp, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMain, partitionEntries, runProducer, summaryOf } from '@pipe/fixtures';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ndjson } from './inputs.js';

// Issue #14: what a careless user or a hostile input file does to `ingest` and to the flags.

const redisUrl = inject('redisUrl');
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = new Redis(redisUrl);
  dir = await mkdtemp(join(tmpdir(), 'producer-hostile-'));
});
afterAll(() => redis.disconnect());

const now = Date.now() - 60_000;
const RECORDS = ndjson([
  { device: 'sensor-001', ts: now, temp_f: 70 },
  { device: 'sensor-002', ts: now, temp_f: 'warm' },
]);
/** Control characters a terminal acts on (ESC, BEL, CR, backspace, C1 CSI), never newline or tab. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function ingest(prefix: string, flags: string[], input?: string) {
  return runProducer(['ingest', '--redis-url', redisUrl, '--prefix', prefix, '--json', ...flags], { input });
}

/** Exit status and stderr of a producer started some other way than runProducer (a shell, a file as stdin). */
async function exitOf(child: ChildProcess) {
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'close');
  return { code: code as number, stderr };
}

const ENV = { ...process.env, LOG_LEVEL: 'warn' };

/** `printf '%s' <input> | node dist/main.js ingest <flags>` through sh: stdin is a real pipe, as in the issue. */
function ingestFromShellPipe(input: string, flags: string[]) {
  const args = [process.execPath, appMain('producer'), 'ingest', '--redis-url', redisUrl, ...flags];
  const script = 'input=$1; shift; printf "%s" "$input" | "$@"';
  return exitOf(
    spawn('sh', ['-c', script, 'sh', input, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: ENV }),
  );
}

/** `ingest` with stdin read from `stdinPath` (a file, not a pipe), as `< file` in a shell. */
async function ingestWithStdinFrom(stdinPath: string, flags: string[]) {
  const stdin = await open(stdinPath, 'r');
  try {
    const args = [appMain('producer'), 'ingest', '--redis-url', redisUrl, ...flags];
    return await exitOf(spawn(process.execPath, args, { stdio: [stdin.fd, 'ignore', 'pipe'], env: ENV }));
  } finally {
    await stdin.close();
  }
}

describe('item 2: an output that is the input is refused before anything is written', () => {
  it('--rejects naming the input file, a symlink or a hard link to it: usage error, input intact', async () => {
    const prefix = randomPrefix('hostile');
    const file = join(dir, 'in.ndjson');
    await writeFile(file, RECORDS);
    await symlink(file, join(dir, 'in-symlink.ndjson'));
    await link(file, join(dir, 'in-hardlink.ndjson'));
    for (const rejects of [file, join(dir, 'in-symlink.ndjson'), join(dir, 'in-hardlink.ndjson')]) {
      const run = await ingest(prefix, ['--file', file, '--rejects', rejects]);
      expect(run.code, `${rejects}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toMatch(/^ingest: --rejects .* is the input .*; nothing was read or written\n$/);
      expect(run.stdout).toBe('');
      expect(await readFile(file, 'utf8')).toBe(RECORDS);
    }
    expect(await partitionEntries(redis, prefix)).toHaveLength(0);
  });

  it('--file - with --rejects /dev/stdin, /proc/self/fd/0 or /dev/fd/0: usage error', async () => {
    const prefix = randomPrefix('hostile');
    for (const rejects of ['/dev/stdin', '/proc/self/fd/0', '/dev/fd/0']) {
      // Once from a shell pipe, once from the socket pair node gives a child's stdin.
      const piped = await ingestFromShellPipe(RECORDS, [
        '--prefix',
        prefix,
        '--file',
        '-',
        '--rejects',
        rejects,
      ]);
      expect(piped.code, `${rejects}: ${piped.stderr}`).toBe(1);
      expect(piped.stderr).toMatch(/is the input/);
      const run = await ingest(prefix, ['--file', '-', '--rejects', rejects], RECORDS);
      expect(run.code, `${rejects}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toMatch(/is the input/);
    }
    expect(await partitionEntries(redis, prefix)).toHaveLength(0);
  });

  it('stdin redirected from a file with --rejects naming that file: usage error, file intact', async () => {
    const file = join(dir, 'stdin.ndjson');
    await writeFile(file, RECORDS);
    const run = await ingestWithStdinFrom(file, ['--prefix', randomPrefix('hostile'), '--rejects', file]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/is the input/);
    expect(await readFile(file, 'utf8')).toBe(RECORDS);
  });

  it('a different rejects file still gets the rejected lines', async () => {
    const file = join(dir, 'ok.ndjson');
    const rejects = join(dir, 'ok.rejects');
    await writeFile(file, RECORDS);
    const run = await ingest(randomPrefix('hostile'), ['--file', file, '--rejects', rejects]);
    expect(run.code, run.stderr).toBe(2);
    expect((await readFile(rejects, 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});

describe('item 9: nothing from the input reaches the terminal as a control character', () => {
  it('escapes ESC sequences in JSON parse errors on stderr; --rejects keeps the exact line', async () => {
    const rejects = join(dir, 'escape.rejects');
    const line = 'x\u001b[2K\u001b[1Aok';
    const run = await ingest(randomPrefix('hostile'), ['--rejects', rejects], `${line}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(TERMINAL_CONTROL);
    expect(run.stderr).toContain('stdin:1: not JSON: ');
    expect(run.stderr).toContain('\\x1b[2K');
    expect(JSON.parse(await readFile(rejects, 'utf8'))).toMatchObject({ line: 1, input: line });
  });

  it('escapes the column names of a bad CSV header', async () => {
    const run = await ingest(
      randomPrefix('hostile'),
      ['--format', 'csv'],
      'device,\u001b]0;owned\u0007title,\u009b31m\n',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(TERMINAL_CONTROL);
    expect(run.stderr).toMatch(
      /stdin:1: header lacks column ts, temp_f \(has: device, \\x1b\]0;owned\\x07title/,
    );
  });

  it('a binary file gives bounded, escaped lines on stderr', async () => {
    const file = join(dir, 'binary.bin');
    await writeFile(file, randomBytes(2_000_000));
    const run = await ingest(randomPrefix('hostile'), ['--file', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(TERMINAL_CONTROL);
    const lines = run.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines) expect(l.length).toBeLessThan(file.length + 400);
  });
});

describe('item 12: flags and inputs without sane bounds are refused at start', () => {
  it('lists every out-of-bounds flag at once and exits 1 before connecting', async () => {
    // A closed port and a short give-up, so that a run that does start ends by itself.
    const unreachable = ['--redis-url', 'redis://127.0.0.1:1', '--give-up-after', '1s'];
    const outOfBounds = ['--devices', '100000000', '--interval', '0.5', '--retention', '99999999999999d'];
    const run = await runProducer(['run', ...unreachable, ...outOfBounds]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^invalid configuration:/);
    expect(run.stderr).toMatch(/- devices: at most 10000/);
    expect(run.stderr).toMatch(/- interval: must be a whole number of milliseconds/);
    expect(run.stderr).toMatch(/- retention: at most 3650d/);
    expect(run.stdout).toBe('');
  });

  it('backfill refuses an interval under 1 ms or with a fraction of a millisecond', async () => {
    for (const interval of ['0.5', '1.5ms', '0.0005s']) {
      const prefix = randomPrefix('hostile');
      const to = Math.floor(Date.now() / 1000) * 1000;
      const run = await runProducer([
        'backfill',
        '--redis-url',
        redisUrl,
        '--prefix',
        prefix,
        '--devices',
        '1',
        '--from',
        String(to - 10),
        '--to',
        String(to),
        '--interval',
        interval,
      ]);
      expect(run.code, `${interval}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toMatch(/- interval: must be a whole number of milliseconds/);
      expect(await partitionEntries(redis, prefix)).toHaveLength(0);
    }
  });

  it('run refuses an interval that is not shorter than the retention (its first readings would expire)', async () => {
    const run = await runProducer(['run', '--redis-url', redisUrl, '--interval', '3d', '--duration', '1s']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/- interval: must be shorter than --retention/);
  });

  it('ingest --file <directory> is a usage error before connecting, without a stack trace', async () => {
    const directory = join(dir, 'a-directory');
    await mkdir(directory);
    const run = await runProducer([
      'ingest',
      '--redis-url',
      'redis://127.0.0.1:1',
      '--give-up-after',
      '1s',
      '--file',
      directory,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`ingest: ${directory}: is a directory\n`);
    expect(run.stdout).toBe('');
  });

  it('a UTF-8 byte order mark before the first NDJSON record is not part of it', async () => {
    const prefix = randomPrefix('hostile');
    const file = join(dir, 'bom.ndjson');
    await writeFile(file, `\uFEFF${ndjson([{ device: 'sensor-001', ts: now, temp_f: 70 }])}`);
    const run = await ingest(prefix, ['--file', file]);
    expect(run.code, run.stderr).toBe(0);
    expect(summaryOf(run)).toMatchObject({ readings: 1, rejected: 0 });
  });
});
