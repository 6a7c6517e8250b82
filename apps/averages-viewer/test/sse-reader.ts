import { sleep } from '@pipe/testkit';

export interface ReceivedEvent {
  event: string;
  id?: string;
  data: string;
  at: number;
}

/** Reads a server-sent event stream the way EventSource does, keeping every event with its arrival time. */
export class SseReader {
  readonly events: ReceivedEvent[] = [];
  readonly comments: string[] = [];
  private done = false;

  private constructor(
    readonly status: number,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const controller = new AbortController();
    const res = await fetch(url, { headers, signal: controller.signal });
    const reader = new SseReader(res.status, controller);
    reader.pump(res.body!);
    return reader;
  }

  /** The server ended the stream (or close() aborted it). */
  get ended(): boolean {
    return this.done;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.done = true;
    }
  }

  private parse(block: string): void {
    const event: ReceivedEvent = { event: 'message', data: '', at: Date.now() };
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event.event = line.slice(7);
      else if (line.startsWith('id: ')) event.id = line.slice(4);
      else if (line.startsWith('data: ')) {
        event.data += line.slice(6);
        hasData = true;
      }
    }
    if (hasData) this.events.push(event);
  }

  /** The first event (from index `from` on) that matches, failing after `timeoutMs`. */
  async waitFor(
    match: (e: ReceivedEvent) => boolean,
    { from = 0, timeoutMs = 10_000 } = {},
  ): Promise<ReceivedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline || this.done) {
        throw new Error(
          `no matching event within ${timeoutMs} ms: ${JSON.stringify(this.events.slice(from))}`,
        );
      }
      await sleep(5);
    }
  }

  averages(): { id: string; hourStart: number }[] {
    return this.events.filter((e) => e.event === 'average').map((e) => JSON.parse(e.data));
  }

  close(): void {
    this.abort.abort();
  }
}
