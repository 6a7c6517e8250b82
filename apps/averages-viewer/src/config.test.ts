import { describe, expect, it } from 'vitest';
import { serveConfig, tailConfig } from './config.js';

/** The message of the configuration error `read` throws (every problem at once). */
function problemsOf(read: () => unknown): string {
  try {
    read();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('tail settings', () => {
  it('default to a one-shot tail of the viewer "default", warnings only, giving up after 10 s', () => {
    expect(tailConfig.read({}, {})).toMatchObject({
      name: 'default',
      follow: false,
      json: false,
      logLevel: 'warn',
      giveUpAfter: 10_000,
      prefix: 'temps',
    });
    expect(tailConfig.read({}, { VIEWER_NAME: 'ops' }).name).toBe('ops');
    expect(tailConfig.read({ name: 'cli' }, { VIEWER_NAME: 'ops' }).name).toBe('cli');
  });

  it('read --from as ISO 8601 (UTC without a zone) or epoch ms, and --last as a count', () => {
    expect(tailConfig.read({ from: '2027-01-01T13:00' }, {}).from).toBe(Date.UTC(2027, 0, 1, 13));
    expect(tailConfig.read({ from: '1798808400000' }, {}).from).toBe(1_798_808_400_000);
    expect(tailConfig.read({ last: '24' }, {}).last).toBe(24);
  });

  it('read --device and --resolution (1h by default); refuse a device id or size pipe cannot have', () => {
    expect(tailConfig.read({}, {}).resolution).toEqual({ label: '1h', ms: 3_600_000 });
    expect(tailConfig.read({ device: 'lab:fridge.3', resolution: '1m' }, {})).toMatchObject({
      device: 'lab:fridge.3',
      resolution: { label: '1m', ms: 60_000 },
    });
    const problems = problemsOf(() => tailConfig.read({ device: 'a{b}', resolution: '7m' }, {}));
    expect(problems).toContain('device');
    expect(problems).toContain('not a window size: "7m"');
  });

  it('list every problem at once: an unreadable time, --last with --from, a name with a space', () => {
    const problems = problemsOf(() =>
      tailConfig.read({ from: 'last-tuesday', last: '2', name: 'has space' }, {}),
    );
    expect(problems).toContain('from');
    expect(problems).toContain('name');
    expect(problemsOf(() => tailConfig.read({ from: '2027-01-01', last: '2' }, {}))).toContain(
      '--last and --from exclude each other',
    );
  });
});

describe('serve settings', () => {
  it('listen on 127.0.0.1:8080 unless VIEWER_PORT/VIEWER_HOST or the flags say otherwise', () => {
    const defaults = serveConfig.read({}, {});
    expect(defaults).toMatchObject({ port: 8080, host: '127.0.0.1' });
    // None given: the server allows its bind address and the loopback names (host-allow-list.ts).
    expect(defaults.allowedHosts).toBeUndefined();
    expect(serveConfig.read({}, { VIEWER_PORT: '9000', VIEWER_HOST: '0.0.0.0' })).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
    });
    expect(problemsOf(() => serveConfig.read({ port: '65536' }, {}))).toContain('port');
  });

  it('take --allowed-hosts as a comma-separated list of host or host:port, empty entries ignored', () => {
    const { allowedHosts } = serveConfig.read({ allowedHosts: 'dash.example.org,,127.0.0.1:8443' }, {});
    expect(allowedHosts?.allows('dash.example.org:1234')).toBe(true);
    expect(allowedHosts?.allows('127.0.0.1:8443')).toBe(true);
    expect(allowedHosts?.allows('127.0.0.1:8080')).toBe(false);
    expect(allowedHosts?.allows('localhost:8443')).toBe(false);
    expect(problemsOf(() => serveConfig.read({}, { VIEWER_ALLOWED_HOSTS: 'http://evil/' }))).toContain(
      'allowedHosts',
    );
  });
});
