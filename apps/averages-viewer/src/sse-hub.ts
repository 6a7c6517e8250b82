import type { ServerResponse } from 'node:http';
import { compareIds } from '@pipe/streams';

export interface ServerEvent {
  event: string;
  data: string;
  /** Stream ID of an average: EventSource sends it back as Last-Event-ID when it reconnects. */
  id?: string;
}

/** The headers that open an event stream (HEAD answers them too). */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** One EventSource connection. While it catches up on what it missed, live events wait in `held`. */
export class SseClient {
  private held: ServerEvent[] | undefined = [];
  private lastId: string | undefined;

  constructor(
    readonly res: ServerResponse,
    after: string | undefined,
  ) {
    this.lastId = after;
  }

  /** A live event: held while the client catches up, delivered otherwise. */
  send(event: ServerEvent): void {
    if (this.held) this.held.push(event);
    else this.deliver(event);
  }

  /** Writes an event now (catch-up uses this directly); an average already sent is not sent twice. */
  deliver(event: ServerEvent): void {
    if (event.id !== undefined) {
      if (this.lastId !== undefined && compareIds(event.id, this.lastId) <= 0) return;
      this.lastId = event.id;
    }
    this.res.write(`event: ${event.event}\n${event.id ? `id: ${event.id}\n` : ''}data: ${event.data}\n\n`);
  }

  /** Catch-up done: the held live events follow (minus those catch-up already sent). */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const event of held) this.deliver(event);
  }

  comment(text: string): void {
    this.res.write(`: ${text}\n\n`);
  }
}

/**
 * The server-sent event connections of the dashboard: one shared feed fans out to all of them, and a
 * heartbeat comment keeps proxies and idle timeouts from closing a quiet stream.
 */
export class SseHub {
  private readonly clients = new Set<SseClient>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    heartbeatMs: number,
    private readonly reconnectMs: number,
  ) {
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.comment('heartbeat');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Opens the event stream on a response; the client holds live events until release(). */
  add(res: ServerResponse, after: string | undefined): SseClient {
    res.writeHead(200, EVENT_STREAM_HEADERS);
    res.write(`retry: ${this.reconnectMs}\n\n`);
    const client = new SseClient(res, after);
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    return client;
  }

  broadcast(event: ServerEvent): void {
    for (const client of this.clients) client.send(event);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }
}
