import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';

/** Where a test's pipeline lives: a server of its own and a fresh key prefix on it. */
export interface Target {
  url: string;
  keys: PipelineKeys;
  /** The connection flags every app takes: `--redis-url <url> --prefix <prefix>`. */
  flags: string[];
}

export function targetOn(url: string, name: string): Target {
  const prefix = randomPrefix(name);
  return { url, keys: new PipelineKeys(prefix), flags: ['--redis-url', url, '--prefix', prefix] };
}
