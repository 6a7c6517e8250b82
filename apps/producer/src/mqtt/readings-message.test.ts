import { describe, expect, it } from 'vitest';
import { deviceOfTopic, parseReadingsMessage } from './readings-message.js';

describe('deviceOfTopic', () => {
  it("names the device by the filter's +, null for a filter without one, undefined when none matches", () => {
    expect(deviceOfTopic(['sensors/+/readings'], 'sensors/d1/readings')).toBe('d1');
    expect(deviceOfTopic(['sensors/+/readings'], 'sensors/d1/other')).toBeUndefined();
    expect(deviceOfTopic(['sensors/+/readings'], 'sensors/d1/readings/x')).toBeUndefined();
    expect(deviceOfTopic(['a/+/r', 'site/#'], 'site/x/y')).toBeNull();
    expect(deviceOfTopic(['site/+/#'], 'site/d2/a/b')).toBe('d2');
    expect(deviceOfTopic(['fixed/topic'], 'fixed/topic')).toBeNull();
  });
});

describe('parseReadingsMessage', () => {
  const filters = ['s/+/r', 'all/#'];
  const parse = (topic: string, payload: string, max = 1000) =>
    parseReadingsMessage(filters, topic, Buffer.from(payload), max);

  it('puts the topic device into each reading of an object or an array', () => {
    expect(parse('s/d1/r', '{"ts":1,"temp_f":2}')).toEqual({
      ok: true,
      records: [{ ts: 1, temp_f: 2, device: 'd1' }],
    });
    expect(parse('s/d1/r', '[{"ts":1,"temp_f":2,"device":"d1"}, "x"]')).toEqual({
      ok: true,
      records: [{ ts: 1, temp_f: 2, device: 'd1' }, 'not a JSON object'],
    });
    expect(parse('all/x', '{"device":"d9","ts":1}')).toEqual({
      ok: true,
      records: [{ device: 'd9', ts: 1 }],
    });
  });

  it('refuses the whole message for a wrong topic, an oversized payload or one that is not JSON', () => {
    expect(parse('other', '{}')).toMatchObject({ ok: false, reason: /matches none/ });
    expect(parse('s//r', '{}')).toMatchObject({ ok: false, reason: /empty device level/ });
    expect(parse('s/d1/r', '{}', 1)).toMatchObject({ ok: false, reason: /over --max-payload/ });
    expect(parse('s/d1/r', '{')).toMatchObject({ ok: false, reason: /^not JSON/ });
  });
});
