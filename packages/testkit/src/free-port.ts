import { connect, createServer } from 'node:net';

/** Asks the kernel for an unused TCP port. `below` keeps room for a cluster bus port (port + 10000). */
export async function freePort(below = 55_536): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port > 0 && port < below) return port;
  }
}

/**
 * A port nothing listens on, for tests of a service that cannot reach Redis. Not from freePort: a port
 * the kernel just handed out may be handed to the next listen(0) of a test running beside it (a
 * redis-server of another package's tests), and the service then reaches that server. This one lies
 * below the kernel's ephemeral range (32768 and up on Linux), which listen(0) never hands out, and
 * nothing answered on it when asked.
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
}
