import { PipeError } from '@pipe/streams';

/** Replies that mean "not now" (a restart loading its AOF, a failover, memory that may free up). */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|NOREPLICAS)\b/;

/**
 * True when a failed write may succeed later. Errors of the connection (closed, refused, timed out,
 * not writable while reconnecting) are transient; a reply from Redis is transient only when it says so,
 * because WRONGTYPE or a script error will fail the same way forever.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // pipe's own errors say it (a function the server lost and got back is; one nobody may load is not).
  if (err instanceof PipeError) return err.retryable;
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message);
  return true;
}
