import { close, constants, createReadStream, fstat, open, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ReadStream as TtyReadStream, isatty } from 'node:tty';
import { promisify } from 'node:util';

/** The input of `ingest`: its stream, and what it is, to check outputs against (overwrite-check.ts). */
export interface InputFile {
  /** `-` for stdin, else the path as given. */
  path: string;
  stream: Readable;
  /** fstat of the open input (stdin: of fd 0), so a rename after opening cannot fool the check. */
  stats: Stats;
}

/** A usage error of `ingest`: reported on one line before connecting, exit 1. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);

/**
 * Opens `--file` (or `stdin`, the process's unless given, for `-`) so that a stop never waits for input. Node reads files in its
 * thread pool, and a read that blocks there (a FIFO or terminal with nothing to say) cannot be
 * abandoned: even process.exit waits for it. So a FIFO or socket is opened non-blocking (no wait for
 * a writer either) and read through libuv's event loop like a pipe on stdin, a terminal as a TTY
 * stream; files and devices such as /dev/zero, whose reads return at once, through the thread pool.
 * A directory is refused here rather than failing with EISDIR after the run began.
 */
export async function openInput(path: string, stdin: Readable = process.stdin): Promise<InputFile> {
  if (path === '-') return { path, stream: stdin, stats: await fstatFd(0) };
  const fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const stats = await fstatFd(fd);
  if (stats.isDirectory()) {
    await promisify(close)(fd);
    throw new InputError(`${path}: is a directory`);
  }
  let stream: Readable;
  if (stats.isFIFO() || stats.isSocket()) stream = new Socket({ fd, readable: true, writable: false });
  else if (isatty(fd)) stream = new TtyReadStream(fd);
  else stream = createReadStream('', { fd });
  return { path, stream, stats };
}
