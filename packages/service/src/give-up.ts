import type { RedisClient } from '@pipe/streams';
import { describeRedisFailure, type RedisFailure } from './redis-failure.js';
import { formatDuration } from './time-text.js';

/** Exit status of a command that gave up on Redis; the producer's exit 3 means the same. */
export const EXIT_REDIS_UNAVAILABLE = 3;

export interface GiveUpOptions {
  /** Starts the line on stderr: `pipe-aggregator: cannot reach ...`. */
  program: string;
  /** What the line names: `Redis at <url with the password redacted>` or the cluster seeds. */
  target: string;
  /** How long Redis may stay unreachable, at start or after a lost connection. */
  afterMs: number;
}

/**
 * For batch commands, which must end rather than retry forever: exits with EXIT_REDIS_UNAVAILABLE and
 * one line on stderr naming the cause when Redis refuses the credentials or the TLS handshake (at once),
 * or stays unreachable for `afterMs`. It exits from here rather than failing a promise because the
 * command's work is then stuck in ioredis's queue, and whatever unwinding it did would add lines.
 * Returns a function that stops watching: call it before disconnecting on purpose.
 */
export function exitWhenRedisUnavailable(client: RedisClient, options: GiveUpOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  let lastError: unknown;
  const failure = (): RedisFailure =>
    lastError === undefined ? { reason: 'no connection', permanent: false } : describeRedisFailure(lastError);
  const giveUp = ({ reason, permanent }: RedisFailure) => {
    stop();
    const line = permanent
      ? `${options.program}: cannot use ${options.target}: ${reason}`
      : `${options.program}: cannot reach ${options.target}: ${reason}; gave up after ${formatDuration(options.afterMs)}`;
    process.stderr.write(`${line}\n`);
    process.exit(EXIT_REDIS_UNAVAILABLE);
  };
  // Every failed reconnect closes again; the wait counts from the first close, not the latest.
  const onClose = () => {
    timer ??= setTimeout(() => giveUp(failure()), options.afterMs);
  };
  const onReady = () => {
    clearTimeout(timer);
    timer = undefined;
    lastError = undefined;
  };
  const onError = (err: unknown) => {
    lastError = err;
    const described = describeRedisFailure(err);
    if (described.permanent) giveUp(described);
  };
  // ioredis ends only when it stops reconnecting; pipe's retry strategies never do, so this is a surprise.
  const onEnd = () => giveUp({ ...failure(), permanent: true });
  client.on('close', onClose);
  client.on('ready', onReady);
  client.on('error', onError);
  // A cluster reports each seed's errors (a wrong password, say) as node errors.
  client.on('node error', onError);
  client.on('end', onEnd);
  if (client.status !== 'ready') onClose();

  function stop(): void {
    clearTimeout(timer);
    client.off('close', onClose);
    client.off('ready', onReady);
    client.off('error', onError);
    client.off('node error', onError);
    client.off('end', onEnd);
    // A client being disconnected may still emit an error; without a listener ioredis prints it.
    client.on('error', () => {});
  }
  return stop;
}
