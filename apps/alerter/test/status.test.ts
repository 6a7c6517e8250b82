import { sharedRedis, writeReadings } from '@pipe/fixtures';
import { recentAlerts } from '@pipe/streams';
import { describe, expect, it } from 'vitest';
import { statusCommand } from '../src/commands/status.js';
import { drainOnce } from './in-process.js';

const { redis, fresh } = sharedRedis('alerter-status');
const T0 = Date.UTC(2026, 0, 7, 12, 0);

describe('pipe-alerter status', () => {
  it('shows the alerts firing now, each partition position and lag, and nobody holding the lease after a drain', async () => {
    const { keys } = fresh();
    await writeReadings(redis, keys, [
      { device: 'a', ts: T0, temp_f: 95 },
      { device: 'b', ts: T0 + 1, temp_f: 99 },
      { device: 'b', ts: T0 + 2, temp_f: 50 },
    ]);
    await drainOnce(redis, keys, 'rules:\n  - {name: hot, above: 90}\n');
    let text = '';
    const out = { write: (t: string) => (text += t) };
    expect(await statusCommand({ json: true, group: 'alerter' } as never, redis, keys, out)).toBe(0);
    const status = JSON.parse(text);
    expect(status.active).toEqual([{ rule: 'hot', device: 'a', since: T0, value: '95' }]);
    expect(status.partitions).toEqual([
      {
        partition: keys.partitionKeyFor(T0),
        position: expect.stringMatching(/^\d+-\d+$/),
        pending: 0,
        lag: 0,
      },
    ]);
    expect(status.lease).toEqual({ holder: null, ttlMs: 0 });
    text = '';
    await statusCommand({ json: false, group: 'alerter' } as never, redis, keys, out);
    expect(text).toContain('lease: nobody');
    expect(text).toContain(`  hot  a  since ${new Date(T0).toISOString().replace('.000Z', 'Z')}  value 95`);
    expect((await recentAlerts(redis, keys, 2)).map((t) => [t.device, t.state])).toEqual([
      ['b', 'resolved'],
      ['b', 'firing'],
    ]);
  });
});
