import { describe, expect, it } from 'vitest';
import { isTransient } from './retry-policy.js';

function reply(message: string): Error {
  const err = new Error(message);
  err.name = 'ReplyError';
  return err;
}

describe('isTransient', () => {
  it('retries connection failures', () => {
    expect(isTransient(new Error('Connection is closed.'))).toBe(true);
    expect(isTransient(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    );
  });

  it('retries replies that mean not now, and only those', () => {
    expect(isTransient(reply('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isTransient(reply('READONLY You cannot write against a read only replica.'))).toBe(true);
    expect(isTransient(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(
      false,
    );
    expect(isTransient(reply('ERR Error running script'))).toBe(false);
  });

  it('does not retry what is not an error', () => {
    expect(isTransient('boom')).toBe(false);
  });
});
