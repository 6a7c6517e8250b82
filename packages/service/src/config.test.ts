import { describe, expect, it } from 'vitest';
import { configFrom } from './cli.js';
import { ConfigError, parseDuration } from './config.js';
import { CONNECTION_SETTINGS, connectionSchema, duration, pipeName } from './schemas.js';
import { setting } from './settings.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['250', 250],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '5 parsecs', '-1s', '1e3'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('pipeName', () => {
  it('takes letters, digits, _ . : - and nothing else', () => {
    expect(pipeName().parse('host-1.example:4711_a')).toBe('host-1.example:4711_a');
    for (const name of ['', 'two words', 'a*', 'a{b}', 'naïve']) {
      expect(pipeName().safeParse(name).success, name).toBe(false);
    }
  });

  it('holds a name to its length when one is given', () => {
    expect(pipeName(64).safeParse('x'.repeat(64)).success).toBe(true);
    expect(pipeName(64).safeParse('x'.repeat(65)).error?.issues[0]?.message).toBe('at most 64 characters');
    expect(pipeName().safeParse('x'.repeat(300)).success).toBe(true);
  });
});

describe('configFrom', () => {
  const schema = connectionSchema.extend({ interval: duration().default(1000) });
  const interval = (env?: string) =>
    setting({ flag: '--interval <duration>', env, help: 'how often', schema: duration() });

  it('takes env, lets a flag override it, and fills defaults', () => {
    const config = configFrom(
      schema,
      { prefix: 'from-flag', interval: '2s' },
      { ...CONNECTION_SETTINGS, interval: interval('PIPE_INTERVAL') },
      { REDIS_URL: 'redis://example:6380', STREAM_PREFIX: 'from-env', PIPE_INTERVAL: '9s' },
    );
    expect(config).toMatchObject({
      redisUrl: 'redis://example:6380',
      prefix: 'from-flag',
      interval: 2000,
      logLevel: 'info',
    });
  });

  it('splits cluster seeds', () => {
    const config = configFrom(schema, {}, CONNECTION_SETTINGS, {
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001',
    });
    expect(config.clusterNodes).toEqual(['10.0.0.1:7000', '10.0.0.2:7001']);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      configFrom(
        schema,
        { interval: 'often' },
        { ...CONNECTION_SETTINGS, interval: interval() },
        {
          REDIS_URL: 'http://x',
          STREAM_PREFIX: 'no spaces',
          REDIS_CLUSTER_NODES: 'nohost',
          METRICS_PORT: '99999',
          LOG_LEVEL: 'loud',
        },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const field of ['redisUrl', 'prefix', 'clusterNodes', 'metricsPort', 'logLevel', 'interval']) {
      expect(problems).toContain(field);
    }
    expect((error as ConfigError).code).toBe('INVALID_CONFIG');
  });
});

describe('TLS settings', () => {
  const problemsOf = (flags: Record<string, unknown>) => {
    try {
      configFrom(connectionSchema, flags, CONNECTION_SETTINGS, {});
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };

  it('lists a missing or unreadable file and a directory as configuration problems, with the rest', () => {
    expect(
      problemsOf({ redisUrl: 'rediss://h:1', tlsCa: '/nonexistent/ca.pem', prefix: 'bad prefix' }),
    ).toEqual(['prefix: letters, digits, _ . - only', 'tlsCa: cannot read /nonexistent/ca.pem (ENOENT)']);
    expect(problemsOf({ redisUrl: 'rediss://h:1', tlsCert: '/tmp', tlsKey: '/tmp' })).toEqual([
      'tlsCert: not a file: /tmp',
      'tlsKey: not a file: /tmp',
    ]);
  });

  it('refuses TLS files with a plain redis:// URL, and a certificate without its key', () => {
    expect(problemsOf({ tlsCa: '/etc/hostname' })).toEqual([
      'redisUrl: TLS files are given but the URL is redis:// (plain); use rediss://',
    ]);
    expect(problemsOf({ redisUrl: 'rediss://h:1', tlsCert: '/etc/hostname' })).toEqual([
      'tlsCert: a client certificate and its key go together (--tls-cert with --tls-key)',
    ]);
    expect(problemsOf({ redisUrl: 'rediss://h:1', tlsCa: '/etc/hostname' })).toEqual([]);
    expect(problemsOf({ clusterNodes: 'h:1', tlsCa: '/etc/hostname' })).toEqual([]);
  });
});
