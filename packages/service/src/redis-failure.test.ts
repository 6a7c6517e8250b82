import { describe, expect, it } from 'vitest';
import { describeRedisFailure } from './redis-failure.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeRedisFailure', () => {
  it('names network errors by what happened and their code; retrying may help', () => {
    expect(describeRedisFailure(withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'))).toEqual({
      reason: 'connection refused (ECONNREFUSED)',
      permanent: false,
    });
    const both = new AggregateError([withCode('connect ECONNREFUSED ::1:1', 'ECONNREFUSED')], '');
    expect(describeRedisFailure(both).reason).toBe('connection refused (ECONNREFUSED)');
    expect(describeRedisFailure(withCode('getaddrinfo ENOTFOUND x', 'ENOTFOUND')).reason).toBe(
      'host not found (ENOTFOUND)',
    );
  });

  it('calls refused credentials permanent, with the reply (which never holds the password)', () => {
    const wrong = new Error('WRONGPASS invalid username-password pair or user is disabled.');
    expect(describeRedisFailure(wrong)).toEqual({
      reason: 'authentication failed (WRONGPASS invalid username-password pair or user is disabled.)',
      permanent: true,
    });
    expect(describeRedisFailure(new Error('Ready check failed: NOAUTH Authentication required.'))).toEqual({
      reason: 'authentication failed (NOAUTH Authentication required.)',
      permanent: true,
    });
  });

  it('calls a rejected certificate a permanent TLS handshake failure', () => {
    const failure = describeRedisFailure(
      withCode('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
    );
    expect(failure).toEqual({
      reason:
        'TLS handshake failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)',
      permanent: true,
    });
  });

  it("reports a cluster's last seed error: no seed answered, or its refusal of the credentials", () => {
    const allFailed = (seed: Error) =>
      Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: seed });
    expect(describeRedisFailure(allFailed(new Error('Connection is closed.')))).toEqual({
      reason: 'no seed answered (connection closed)',
      permanent: false,
    });
    expect(describeRedisFailure(allFailed(new Error('WRONGPASS invalid'))).permanent).toBe(true);
  });
});
