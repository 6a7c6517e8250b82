import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SseClient } from './sse-hub.js';

/** Just enough of a response to see what a client is sent. */
function capture() {
  const written: string[] = [];
  const res = { write: (text: string) => written.push(text) } as unknown as ServerResponse;
  const ids = () => written.map((t) => /id: (\S+)/.exec(t)?.[1]).filter(Boolean);
  return { res, written, ids };
}

const average = (id: string) => ({ event: 'average', id, data: `{"id":"${id}"}` });

describe('SseClient', () => {
  it('holds live averages while catching up, then sends each exactly once in order', () => {
    const { res, ids } = capture();
    const client = new SseClient(res, '1-0');
    client.send(average('3-0'));
    client.deliver(average('2-0'));
    client.deliver(average('3-0'));
    client.release();
    client.send(average('4-0'));
    expect(ids()).toEqual(['2-0', '3-0', '4-0']);
  });

  it('never sends an average at or before where the client said it is', () => {
    const { res, ids } = capture();
    const client = new SseClient(res, '5-0');
    client.release();
    client.send(average('5-0'));
    client.send(average('4-0'));
    client.send(average('6-0'));
    expect(ids()).toEqual(['6-0']);
  });

  it('writes the event-stream wire format', () => {
    const { res, written } = capture();
    const client = new SseClient(res, undefined);
    client.release();
    client.send(average('7-0'));
    client.send({ event: 'health', data: '{"up":true}' });
    client.comment('heartbeat');
    expect(written).toEqual([
      'event: average\nid: 7-0\ndata: {"id":"7-0"}\n\n',
      'event: health\ndata: {"up":true}\n\n',
      ': heartbeat\n\n',
    ]);
  });
});
