import { describe, expect, it } from 'vitest';
import { formatDuration, renderStatus, type StatusReport, table } from './status.js';

describe('formatDuration', () => {
  it.each([
    [null, '-'],
    [850, '850ms'],
    [12_345, '12.3s'],
    [245_000, '4m05s'],
    [7_800_000, '2h10m'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d04h'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
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
    };
    const text = renderStatus(report);
    expect(text).toContain('temps:20250101  10      never       1-0       9-0');
    expect(text).toMatch(/aggregator\s+1\s+2\s+1m01s\s+-\s+c1\(2, idle 1\.5s\)/);
    expect(text).toMatch(/dead letters\s+3/);
    expect(text).toMatch(/averages\s+24/);
    expect(text).toContain('active reaper: host-1-abc (lease 12.0s left)');
    expect(renderStatus({ ...report, reaperLease: null })).toContain('active reaper: none');
  });
});
