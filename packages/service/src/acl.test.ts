import { describe, expect, it } from 'vitest';
import { aclSetUserLine, pipelineAcl } from './acl.js';

describe('pipelineAcl', () => {
  it('refuses a prefix that would add rules of its own', () => {
    expect(() => pipelineAcl('x +flushall +config ~x')).toThrow(/not a valid key prefix/);
    expect(() => pipelineAcl('')).toThrow(/not a valid key prefix/);
    const day = `site-2.temps:${'[0-9]'.repeat(8)}`;
    expect(pipelineAcl('site-2.temps').producer.keys).toEqual([
      `~${day}`,
      `~${day}:s*}`,
      `~{${day}}:batches`,
      `~${day}:s*}:batches`,
    ]);
  });

  it('refuses a password that is not exactly one token of the line', () => {
    const { viewer } = pipelineAcl();
    for (const password of ['x +@all ~*', 'short', 'tab\there-long', 'new\nline-long', 'ünïcödé-long'])
      expect(() => aclSetUserLine(viewer, password), password).toThrow(
        /printable ASCII characters without spaces/,
      );
    expect(aclSetUserLine(viewer, 'Good-Password_1')).toContain(' >Good-Password_1 ');
  });

  it('lets the viewer read the consumers of groups (the dashboard status) and write only its positions', () => {
    const { viewer } = pipelineAcl();
    expect(viewer.commands).toContain('xinfo|consumers');
    // The devices index, read-only: /api/devices.
    expect(viewer.commands).toEqual(
      expect.arrayContaining(['zrevrange', 'zscan', 'zcard', 'zscore', 'hmget']),
    );
    // pipe-alerter's state, read-only: /api/alerts.
    expect(viewer.commands).toContain('hgetall');
    expect(viewer.keys).toEqual(expect.arrayContaining(['%R~temps:*', '%R~{temps:*']));
    expect(viewer.keys.filter((k) => !k.startsWith('%R~'))).toEqual(['~temps:viewer:*']);
  });

  it('lets the alerter read partitions through its group and write only the alerts stream, its companions and its lease', () => {
    const { alerter } = pipelineAcl();
    expect(alerter.user).toBe('pipe-alerter');
    expect(alerter.commands).toEqual(expect.arrayContaining(['xreadgroup', 'xack', 'xgroup|create']));
    expect(alerter.commands).not.toContain('xadd');
    const own = ['~temps:alerts', '~{temps:alerts}:*', '~temps:alerter:lease'];
    expect(alerter.keys).toEqual(['~temps:[0-9]*', ...own]);
    expect(alerter.selectors).toEqual([
      { commands: ['xadd', 'hset', 'hdel', 'del', 'pexpire', 'get', 'set'], keys: own },
    ]);
  });

  it('lets the aggregator write the fleet streams of other window sizes and their sources (--windows)', () => {
    const { aggregator } = pipelineAcl();
    expect(aggregator.keys).toEqual(expect.arrayContaining(['~temps:averages:*', '~{temps:averages:*}:*']));
    expect(aggregator.selectors?.[0]?.keys).toEqual(
      expect.arrayContaining(['~temps:averages:*', '~{temps:averages:*}:*']),
    );
  });
});
