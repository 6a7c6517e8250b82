import { describe, expect, it } from 'vitest';
import { HostAllowList } from './host-allow-list.js';

describe('HostAllowList', () => {
  it('by default allows the bind address and the loopback names, with the port only', () => {
    const list = HostAllowList.defaults('0.0.0.0', 8080);
    for (const host of ['localhost:8080', 'LocalHost:8080', '127.0.0.1:8080', '[::1]:8080', '0.0.0.0:8080']) {
      expect(list.allows(host), host).toBe(true);
    }
    for (const host of [
      undefined,
      '',
      'localhost',
      'localhost:8081',
      'evil.example:8080',
      'localhost.:8080',
    ]) {
      expect(list.allows(host), String(host)).toBe(false);
    }
    expect(HostAllowList.defaults('::1', 9000).allows('[::1]:9000')).toBe(true);
    expect(HostAllowList.defaults('dash.internal', 9000).allows('dash.internal:9000')).toBe(true);
  });

  it('takes entries with or without a port; without one, any port', () => {
    const list = HostAllowList.parse(['dash.example.org', '10.0.0.5:8080', '[fd00::1]']);
    expect(list.allows('dash.example.org')).toBe(true);
    expect(list.allows('dash.example.org:443')).toBe(true);
    expect(list.allows('10.0.0.5:8080')).toBe(true);
    expect(list.allows('10.0.0.5:8081')).toBe(false);
    expect(list.allows('[fd00::1]:8080')).toBe(true);
    expect(list.allows('evil.dash.example.org')).toBe(false);
    expect(list.allows('dash.example.org@evil.example')).toBe(false);
  });

  it('refuses entries that are not host or host:port, naming them', () => {
    expect(() => HostAllowList.parse(['ok.example', 'http://x', 'a b', 'h:99999'])).toThrow(
      'not host or host:port: http://x, a b, h:99999',
    );
  });
});
