import { describe, expect, it } from 'vitest';
import { serializeError } from './error-serializer.js';

/** An error shaped as ioredis shapes a refused AUTH (ReplyError with the command attached). */
function authError(password: string) {
  const err = new Error('WRONGPASS invalid username-password pair or user is disabled.') as Error & {
    command: { name: string; args: string[] };
  };
  err.command = { name: 'auth', args: ['pipe-aggregator', password] };
  return err;
}

describe('serializeError', () => {
  it('keeps the command name and drops its arguments', () => {
    const text = JSON.stringify(serializeError(authError('s3cret-pw')));
    expect(text).not.toContain('s3cret-pw');
    expect(text).toContain('WRONGPASS');
    expect(text).toContain('"command":{"name":"auth"}');
  });

  it('drops them from causes and aggregated errors too', () => {
    const outer = new Error('startup failed', { cause: authError('s3cret-pw') }) as Error & {
      errors?: Error[];
    };
    outer.errors = [authError('other-pw')];
    const text = JSON.stringify(serializeError(outer));
    expect(text).not.toMatch(/s3cret-pw|other-pw/);
    expect(text).toContain('WRONGPASS');
  });

  it('masks passwords of URLs in messages and stacks', () => {
    const text = JSON.stringify(serializeError(new Error('cannot reach redis://user:s3cret-pw@db:6379/0')));
    expect(text).not.toContain('s3cret-pw');
    expect(text).toContain('redis://user:***@db:6379/0');
    expect(serializeError('rediss://:pw-in-a-string@host')).toBe('rediss://:***@host');
  });

  it('keeps what is not secret', () => {
    const out = serializeError(new TypeError('boom')) as Record<string, unknown>;
    expect(out).toMatchObject({ type: 'TypeError', message: 'boom' });
    expect(String(out.stack)).toContain('boom');
  });
});
