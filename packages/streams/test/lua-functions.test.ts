import { RedisServer, randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineLuaCommand, luaFunction, PipeError } from '../src/index.js';

// A server of its own: these tests flush its functions, which the other files' scripts use.
let server: RedisServer;
let url: string;
let admin: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  url = server.url;
  admin = new Redis(url);
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});
const APPEND = new URL('./fixtures/append-1.lua', import.meta.url);

describe('scripts as Redis 7 functions', () => {
  it('expands a script’s --#include lines with the files they name, relative to the script', async () => {
    const file = new URL('./fixtures/append-twice-1.lua', import.meta.url);
    const { library } = luaFunction(file);
    expect(library).not.toContain('--#include');
    expect(library).toContain('local function twice(text)');
    const key = randomPrefix('fn');
    const client = new Redis(url);
    try {
      await defineLuaCommand(client, 'appendTwice', file)([key], ['ab']);
      expect(await admin.lrange(key, 0, -1)).toEqual(['abab']);
    } finally {
      client.disconnect();
    }
  });

  it('loads the function before the first call, so calls sent together land in order', async () => {
    await admin.function('FLUSH');
    const key = randomPrefix('fn');
    const client = new Redis(url);
    try {
      const append = defineLuaCommand(client, 'append', APPEND);
      await Promise.all(Array.from({ length: 50 }, (_, i) => append([key], [i])));
      expect(await admin.lrange(key, 0, -1)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    } finally {
      client.disconnect();
    }
  });

  it('after the server lost the function, fails once with a retryable error, having loaded it again', async () => {
    const key = randomPrefix('fn');
    const client = new Redis(url);
    try {
      const append = defineLuaCommand(client, 'append', APPEND);
      await append([key], ['a']);
      await admin.function('FLUSH');
      const lost = await append([key], ['b']).catch((err: unknown) => err);
      expect(lost).toBeInstanceOf(PipeError);
      expect(lost).toMatchObject({ code: 'FUNCTION_RELOADED', retryable: true });
      await append([key], ['b']);
      expect(await admin.lrange(key, 0, -1)).toEqual(['a', 'b']);
    } finally {
      client.disconnect();
    }
  });

  it('tells a user that may not load functions that an admin must', async () => {
    await admin.function('FLUSH');
    const user = randomPrefix('u');
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw-123456', '+@all', '-function|load', '-eval', '~*');
    const client = new Redis(url, { username: user, password: 'pw-123456' });
    try {
      const append = defineLuaCommand(client, 'append', APPEND);
      await expect(append([randomPrefix('fn')], ['x'])).rejects.toMatchObject({
        code: 'FUNCTIONS_NOT_LOADED',
        retryable: false,
      });
    } finally {
      client.disconnect();
      await admin.call('ACL', 'DELUSER', user);
    }
  });
});
