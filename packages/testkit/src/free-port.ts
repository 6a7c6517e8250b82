import { createServer } from 'node:net';

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
