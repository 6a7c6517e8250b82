import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandConfig } from './cli.js';
import { ConfigError } from './config.js';
import { CONNECTION_SETTINGS, duration, giveUpAfter, positiveInt } from './schemas.js';
import { addSettings, type Settings, setting, settingHelp, shownDefault } from './settings.js';

const grace = setting({
  flag: '--grace <duration>',
  env: 'TEST_GRACE',
  help: 'allowed lateness',
  schema: duration().prefault('5s'),
});
const keep = setting({ flag: '--keep <n>', help: 'how many', schema: positiveInt().default(120) });
const drain = setting({ flag: '--drain', help: 'drain and exit', schema: z.boolean().default(false) });
const alertAbove = setting({
  flag: '--alert-above <tempF>',
  env: 'TEST_ALERT_ABOVE',
  help: 'alert above',
  schema: z.coerce.number().optional(),
});

const problemsOf = (read: () => unknown): string[] => {
  try {
    read();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('a setting in --help', () => {
  it('names its env variable and the default its schema fills in, as an operator writes it', () => {
    expect(settingHelp(grace)).toBe('allowed lateness [env TEST_GRACE] (default 5s)');
    expect(settingHelp(keep)).toBe('how many (default 120)');
    expect(settingHelp(alertAbove)).toBe('alert above [env TEST_ALERT_ABOVE]');
  });

  it('shows no default for a switch that is off unless given, and a computed default by its name', () => {
    expect(shownDefault(drain)).toBeUndefined();
    const consumer = setting({
      flag: '--consumer <name>',
      help: 'consumer name',
      schema: z.string().default(`host-${process.pid}`),
      shownDefault: 'host-pid',
    });
    expect(settingHelp(consumer)).toBe('consumer name (default host-pid)');
  });

  it('keeps a default that a refinement follows', () => {
    const leaseTtl = setting({
      flag: '--lease-ttl <duration>',
      help: 'lease',
      schema: duration()
        .prefault('15s')
        .refine((ms) => ms >= 300, 'must be at least 300ms'),
    });
    expect(shownDefault(leaseTtl)).toBe('15s');
  });

  it('becomes one commander option per setting, in their order, with that text', () => {
    const command = addSettings(new Command('test'), { grace, keep, drain });
    expect(command.options.map((o) => [o.long, o.description])).toEqual([
      ['--grace', 'allowed lateness [env TEST_GRACE] (default 5s)'],
      ['--keep', 'how many (default 120)'],
      ['--drain', 'drain and exit'],
    ]);
    expect(command.helpInformation()).toContain('[env TEST_GRACE] (default 5s)');
  });

  it('says every connection setting with its env variable, and the give-up default of batch commands', () => {
    const help = Object.values(CONNECTION_SETTINGS).map(settingHelp);
    for (const env of ['REDIS_URL', 'STREAM_PREFIX', 'METRICS_PORT', 'LOG_LEVEL', 'ALLOW_EVICTION'])
      expect(help.join('\n')).toContain(`[env ${env}]`);
    expect(settingHelp(CONNECTION_SETTINGS.redisUrl)).toBe(
      'Redis URL (redis:// or rediss://) [env REDIS_URL] (default redis://127.0.0.1:6379)',
    );
    expect(settingHelp(giveUpAfter('with --drain: '))).toMatch(
      /^with --drain: exit 3 when .* \[env GIVE_UP_AFTER\] \(default 10s\)$/,
    );
  });
});

describe('CommandConfig', () => {
  const settings = { grace, keep, drain, alertAbove, ...CONNECTION_SETTINGS } satisfies Settings;
  const config = new CommandConfig(settings);

  it('reads env, lets a flag override it, and fills the declared defaults', () => {
    expect(config.read({ keep: '7' }, { TEST_GRACE: '2m', STREAM_PREFIX: 'p' })).toMatchObject({
      grace: 120_000,
      keep: 7,
      drain: false,
      prefix: 'p',
      redisUrl: 'redis://127.0.0.1:6379',
    });
    expect(config.read({ grace: '1s' }, { TEST_GRACE: '2m' }).grace).toBe(1000);
    expect(config.read({}, {}).grace).toBe(5000);
  });

  it('takes an empty env variable as unset', () => {
    expect(config.read({}, { TEST_GRACE: '' }).grace).toBe(5000);
  });

  it('reads a switch from its env variable by value, not by presence', () => {
    expect(config.read({}, { ALLOW_EVICTION: '0' }).allowEviction).toBe(false);
    expect(config.read({}, { ALLOW_EVICTION: '1' }).allowEviction).toBe(true);
    expect(config.read({ allowEviction: true }, {}).allowEviction).toBe(true);
  });

  it('reads no env variable a setting does not declare', () => {
    expect(config.read({}, { KEEP: '3', TEST_KEEP: '3' }).keep).toBe(120);
  });

  it('lists every problem at once: from flags, from env, between fields and between connection settings', () => {
    const refined = new CommandConfig(settings, (schema) =>
      schema.refine((c) => !(c.drain && c.alertAbove !== undefined), {
        message: '--drain and --alert-above exclude each other',
        path: ['drain'],
      }),
    );
    // The refinement runs once the fields are valid: a separate case.
    expect(problemsOf(() => refined.read({ drain: true, alertAbove: '90' }, {}))).toEqual([
      'drain: --drain and --alert-above exclude each other',
    ]);
    const problems = problemsOf(() =>
      refined.read({ keep: '0', tlsCa: '/etc/hostname' }, { TEST_GRACE: 'soon', LOG_LEVEL: 'loud' }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^grace: not a duration/),
      expect.stringMatching(/^keep: /),
      expect.stringMatching(/^logLevel: /),
      'redisUrl: TLS files are given but the URL is redis:// (plain); use rediss://',
    ]);
  });
});
