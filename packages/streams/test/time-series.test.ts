import { describe, expect, it } from 'vitest';
import { TimeSeries } from '../src/time-series.js';
import { sharedServer } from './helpers.js';

const { redis, key } = sharedServer('ts');

const DAY = 86_400_000;
const jan = (day: number) => new Date(Date.UTC(2018, 0, day));

/** The article's setup: streams s1 and s2 with a dummy entry, a group at `$`, daily messages from Jan 1st. */
async function demo(name: string) {
  const s1 = key(`${name}-s1`);
  const s2 = key(`${name}-s2`);
  const ts = new TimeSeries(redis, `${name}-ts`, [s1, s2]);
  await redis.xadd(s1, '0-1', '', '');
  await redis.xadd(s2, '0-1', '', '');
  await ts.create();
  await ts.setId('$');
  for (let i = 0; i < 10; i++) await ts.add(s1, ['message', `s1-${jan(1 + i).toISOString()}`], jan(1 + i));
  for (let i = 0; i < 5; i++) await ts.add(s2, ['message', `s2-${jan(1 + i).toISOString()}`], jan(1 + i));
  return { ts, s1, s2 };
}

describe('TimeSeries (walrus parity)', () => {
  it('add takes a Date as the ID and returns a message with timestamp and sequence', async () => {
    const stream = key('add');
    const ts = new TimeSeries(redis, 'add-ts', [stream]);
    const message = await ts.add(stream, ['message', 'first'], jan(1));
    expect(message).toEqual({
      stream,
      id: '1514764800000-0',
      timestamp: jan(1),
      sequence: 0,
      fields: ['message', 'first'],
    });
    const second = await ts.add(stream, ['message', 'same ms'], jan(1), 1);
    expect(second.id).toBe('1514764800000-1');
    expect(second.sequence).toBe(1);
    const now = await ts.add(stream, ['message', 'now']);
    expect(Math.abs(now.timestamp.getTime() - Date.now())).toBeLessThan(5000);
  });

  it('range between dates with a count (walrus ts.s1[datetime(2018, 1, 2)::3])', async () => {
    const { ts, s1 } = await demo('range');
    const messages = await ts.range(s1, jan(2), undefined, 3);
    expect(messages.map((m) => m.timestamp)).toEqual([jan(2), jan(3), jan(4)]);
    expect(messages.map((m) => [m.stream, m.sequence])).toEqual([
      [s1, 0],
      [s1, 0],
      [s1, 0],
    ]);
    expect(messages[0]?.fields).toEqual(['message', `s1-${jan(2).toISOString()}`]);
    const inclusive = await ts.range(s1, jan(3), jan(5));
    expect(inclusive.map((m) => m.timestamp)).toEqual([jan(3), jan(4), jan(5)]);
    expect(await ts.range(s1, new Date(jan(10).getTime() + DAY))).toEqual([]);
  });

  it('readMessages returns one flat list across streams, ordered by time (walrus ts.read(count=2))', async () => {
    const { ts, s1, s2 } = await demo('read');
    const messages = await ts.readMessages({ count: 2 });
    expect(messages.map((m) => [m.stream, m.timestamp])).toEqual([
      [s1, jan(1)],
      [s2, jan(1)],
      [s1, jan(2)],
      [s2, jan(2)],
    ]);
  });

  it('pendingTimes gives pending entries as (timestamp, sequence), and ackTimes acknowledges by them', async () => {
    const { ts, s1 } = await demo('pending');
    await ts.readMessages({ count: 2 });
    const pending = await ts.pendingTimes(s1);
    expect(pending.map((p) => [p.timestamp, p.sequence, p.consumer, p.deliveries])).toEqual([
      [jan(1), 0, 'pending-ts.c1', 1],
      [jan(2), 0, 'pending-ts.c1', 1],
    ]);
    expect(await ts.ackTimes(s1, ...pending)).toBe(2);
    expect(await ts.pendingTimes(s1)).toEqual([]);
  });

  it('setTime on one stream moves its position to a date; the next read of that stream starts after it', async () => {
    const { ts, s1 } = await demo('settime');
    await ts.setTime(jan(1), s1);
    const messages = await ts.forStream(s1).readMessages({ count: 2 });
    expect(messages.map((m) => [m.stream, m.timestamp])).toEqual([
      [s1, jan(2)],
      [s1, jan(3)],
    ]);
    await ts.setTime(jan(4));
    const both = await ts.readMessages({ count: 1 });
    expect(both.map((m) => m.timestamp)).toEqual([jan(5), jan(5)]);
  });

  it('consumer and forStream keep the TimeSeries type; claims work as in ConsumerGroup', async () => {
    const { ts, s1 } = await demo('consumer');
    await ts.readMessages({ count: 1 });
    const other = ts.consumer('consumer-ts.c2');
    expect(other).toBeInstanceOf(TimeSeries);
    expect(ts.forStream(s1)).toBeInstanceOf(TimeSeries);
    const [first] = await ts.pendingTimes(s1);
    const claimed = await other.claim(s1, [first!.id]);
    expect(claimed.map((e) => e.id)).toEqual(['1514764800000-0']);
    expect((await other.pendingTimes(s1)).map((p) => p.consumer)).toEqual(['consumer-ts.c2']);
  });
});
