import { describe, expect, it } from 'vitest';
import { formatBytes, renderStatus, type StatusReport, table } from './status-table.js';

describe('formatBytes', () => {
  it.each([
    [512, '512B'],
    [1536, '1.50KiB'],
    [30 * 1024 * 1024, '30.0MiB'],
    [2 * 1024 ** 3, '2.00GiB'],
  ])('%s bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('table', () => {
  it('pads columns to their widest cell and trims line ends', () => {
    expect(
      table(
        ['A', 'LONG'],
        [
          ['xyz', '1'],
          ['q', ''],
        ],
      ),
    ).toBe('A    LONG\nxyz  1\nq');
  });
});

describe('renderStatus', () => {
  it('shows partitions, groups with null lag as a dash, and side-stream sizes', () => {
    const report: StatusReport = {
      at: 0,
      reaperLease: { holder: 'host-1-abc', ttlMs: 12_000 },
      partitions: [
        {
          key: 'temps:20250101',
          length: 10,
          ttlMs: -1,
          expiresAt: null,
          firstId: '1-0',
          lastId: '9-0',
          removedEntries: 4,
          uncounted: 7,
          groups: [
            {
              name: 'aggregator',
              consumers: [{ name: 'c1', pending: 2, idleMs: 1500 }],
              pending: 2,
              oldestPendingId: '3-0',
              oldestPendingIdleMs: 61_000,
              lag: null,
              entriesRead: 5,
              lastDeliveredId: '5-0',
            },
          ],
        },
      ],
      deadLetters: 3,
      late: 0,
      alerts: 1,
      averages: 24,
      memory: [
        {
          node: '10.0.0.1:6379',
          usedBytes: 28 * 1024 * 1024,
          maxBytes: 30 * 1024 * 1024,
          policy: 'noeviction',
          evictedKeys: 0,
        },
        { node: '10.0.0.2:6379', usedBytes: 1024, maxBytes: 0, policy: 'allkeys-lru', evictedKeys: 7 },
      ],
    };
    const text = renderStatus(report);
    expect(text).toMatch(/temps:20250101\s+10\s+7\s+4 \(!\)\s+never\s+1-0\s+9-0/);
    expect(text).toMatch(/aggregator\s+1\s+2\s+1m01s\s+-\s+c1\(2, idle 1\.5s\)/);
    expect(text).toMatch(/dead letters\s+3/);
    expect(text).toMatch(/averages\s+24/);
    expect(text).toMatch(/10\.0\.0\.1:6379\s+28\.0MiB\s+30\.0MiB\s+93%\s+noeviction\s+0/);
    expect(text).toMatch(/10\.0\.0\.2:6379\s+1\.00KiB\s+no limit\s+-\s+allkeys-lru\s+7/);
    expect(text).toContain('active reaper: host-1-abc (lease 12s left)');
    expect(renderStatus({ ...report, reaperLease: null })).toContain('active reaper: none');
  });
});
