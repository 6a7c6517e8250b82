import { runReaper } from '@pipe/fixtures';
import { describe, expect, it } from 'vitest';

describe('pipe-reaper command line', () => {
  it('refuses invalid configuration before connecting, listing every problem', async () => {
    const invalid = ['--min-idle', 'soon', '--max-deliveries', '0', '--lease-ttl', '10ms'];
    const result = await runReaper(['run', '--redis-url', 'http://nope', ...invalid]);
    expect(result.code).toBe(1);
    for (const field of ['redisUrl', 'minIdle', 'maxDeliveries', 'leaseTtl'])
      expect(result.stderr).toContain(field);
  });

  it('takes its settings from the environment too', async () => {
    const result = await runReaper(['once'], { REAPER_MIN_IDLE: 'later', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('minIdle: not a duration');
  });

  it('asks for letter IDs or --all before replaying anything', async () => {
    const result = await runReaper(['dlq', 'replay', '--redis-url', 'redis://127.0.0.1:1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('give letter IDs or --all');
  });

  it('refuses to purge the dead letters without --yes, before connecting', async () => {
    const result = await runReaper(['dlq', 'purge', '--redis-url', 'redis://127.0.0.1:1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('add --yes');
  });
});
