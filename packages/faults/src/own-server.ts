import { RedisServer, type RedisServerOptions } from '@pipe/testkit';
import { afterEach } from 'vitest';

/**
 * A redis-server of its own for each test of the calling file (its faults hit the whole server, and a
 * soak fills it), stopped after the test. Returns the function that starts it.
 */
export function serverPerTest(): (options?: RedisServerOptions) => Promise<RedisServer> {
  let server: RedisServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  return async (options = {}) => {
    server = await RedisServer.start(options);
    return server;
  };
}
