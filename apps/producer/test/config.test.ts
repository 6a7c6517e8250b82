import { runProducer } from '@pipe/fixtures';
import { describe, expect, it } from 'vitest';

describe('configuration', () => {
  it('lists every invalid flag and env value at once and exits 1 before connecting', async () => {
    const run = await runProducer(
      [
        'run',
        '--redis-url',
        'http://nope',
        '--devices',
        '0',
        '--interval',
        'often',
        '--speed',
        '-2',
        '--prefix',
        'bad prefix',
      ],
      { env: { RETENTION: 'forever', GIVE_UP_AFTER: '-1s', ID_FROM_TIME: 'maybe' } },
    );
    expect(run.code).toBe(1);
    for (const field of [
      'redisUrl',
      'devices',
      'interval',
      'speed',
      'prefix',
      'retention',
      'giveUpAfter',
      'idFromTime',
    ]) {
      expect(run.stderr).toMatch(new RegExp(`- ${field}: `));
    }
    expect(run.stdout).toBe('');
  });

  it('lets flags override env', async () => {
    const run = await runProducer(
      ['ingest', '--retention', '1h', '--redis-url', 'redis://127.0.0.1:1', '--give-up-after', '200ms'],
      {
        env: { RETENTION: 'forever' },
      },
    );
    // RETENTION is overridden, so the config is valid; it then gives up on the closed port (exit 3).
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/gave up: Redis was unavailable for 200ms/);
  });

  it('documents the commands, flags, env variables and exit codes in --help', async () => {
    const help = await runProducer(['ingest', '--help']);
    expect(help.code).toBe(0);
    for (const text of [
      '--file',
      '--format',
      '--strict',
      '--rejects',
      '--retention',
      '--id-from-time',
      '--give-up-after',
      'REDIS_URL',
      'STREAM_PREFIX',
      'Exit status:',
      '2    some records were rejected',
    ]) {
      expect(help.stdout).toContain(text);
    }
  });

  it('refuses a backfill range that starts outside retention before connecting (exit 1)', async () => {
    const run = await runProducer([
      'backfill',
      '--redis-url',
      'redis://127.0.0.1:1',
      '--from',
      '2025-01-01T00:00:00Z',
      '--to',
      '2025-01-02T00:00:00Z',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/from: 2025-01-01T00:00:00.000Z is older than the retention/);
  });
});
