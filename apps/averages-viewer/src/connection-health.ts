import type { RedisClient } from '@pipe/streams';

const ignoreError = () => {};

export type RedisHealth = { up: true; since: number } | { up: false; since: number; error: string };

/**
 * Whether a Redis connection works, from its events and from the commands run on it; reports each
 * change once (so an outage prints one line, not one per retry). Listening to 'error' also keeps
 * ioredis from printing its own "unhandled error event" lines.
 */
export class ConnectionHealth {
  private state: RedisHealth;
  private lastError = 'connection closed';
  private readonly detachers: (() => void)[] = [];

  constructor(
    private readonly onChange: (health: RedisHealth) => void = () => {},
    initiallyUp = false,
  ) {
    this.state = initiallyUp
      ? { up: true, since: Date.now() }
      : { up: false, since: Date.now(), error: 'not connected yet' };
  }

  get current(): RedisHealth {
    return this.state;
  }

  /** Follows a client's events until detach(). */
  watch(client: RedisClient): this {
    const onError = (err: Error) => {
      this.lastError = describeError(err);
    };
    const onClose = () => this.markDown(this.lastError);
    const onReady = () => this.markUp();
    client.on('error', onError);
    client.on('close', onClose);
    client.on('ready', onReady);
    this.detachers.push(() => {
      client.off('error', onError);
      client.off('close', onClose);
      client.off('ready', onReady);
      // Keep an error listener: a client being disconnected may still emit one. One per client, not
      // one per detach: a client outlives many watchers (each one-shot tail of a test, say).
      if (!client.listeners('error').includes(ignoreError)) client.on('error', ignoreError);
    });
    return this;
  }

  detach(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }

  markUp(): void {
    if (!this.state.up) {
      this.state = { up: true, since: Date.now() };
      this.onChange(this.state);
    }
  }

  markDown(error: unknown): void {
    const text = typeof error === 'string' ? error : describeError(error);
    if (this.state.up) {
      this.state = { up: false, since: Date.now(), error: text };
      this.onChange(this.state);
    } else {
      this.state = { ...this.state, error: text };
    }
  }
}

/** An error reply (WRONGTYPE, NOPERM, ERR …): Redis answered, so the connection works. */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}
