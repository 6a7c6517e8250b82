import { realpath, stat } from 'node:fs/promises';
import type { InputFile } from './input-file.js';

/**
 * The input (`stdin` or its path) that writing `output` could destroy or feed, or undefined when it
 * cannot. The one check for every output of a command that reads an input, made before anything is
 * opened for writing: opening the input file for writing truncates it before a line is read; and
 * /dev/stdin, /dev/fd/0 or /proc/self/fd/0 reach stdin (a redirected file is truncated the same way, a
 * pipe would read back what is written into it). Same file means the same device and inode after
 * symlinks (which also catches hard links and those /proc links), or the same real path. A character
 * device (a terminal, /dev/null) as both is allowed: writing to it does not change what is read.
 */
export async function inputOverwrittenBy(output: string, input: InputFile): Promise<string | undefined> {
  const target = await stat(output).catch(() => undefined);
  // An output that does not exist yet cannot be the input, which is open.
  if (!target || input.stats.isCharacterDevice()) return undefined;
  const name = input.path === '-' ? 'stdin' : input.path;
  if (target.dev === input.stats.dev && target.ino === input.stats.ino) return name;
  if (input.path !== '-' && (await realPath(output)) === (await realPath(input.path))) return name;
  return undefined;
}

function realPath(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}
