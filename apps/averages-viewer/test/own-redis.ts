import { connect, type RedisClient } from '@pipe/streams';
import { RedisServer } from '@pipe/testkit';

/**
 * A redis-server of the test's own, for a test that kills, restarts or freezes it (the shared one
 * serves every file at once), and a client of it that lives through those outages.
 */
export async function ownRedis(): Promise<{
  server: RedisServer;
  client: RedisClient;
  stop: () => Promise<void>;
}> {
  const server = await RedisServer.start();
  const client = connect({ url: server.url });
  // Its outages are the test's doing: the errors they raise are expected, not failures.
  client.on('error', () => {});
  return {
    server,
    client,
    stop: async () => {
      client.disconnect();
      await server.stop();
    },
  };
}
