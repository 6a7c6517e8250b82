import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy to a redis-server whose existing connections can be frozen: bytes stop flowing both ways
 * but the sockets stay open, so a command in flight never settles, while new connections pass. That is
 * the ioredis failure the consumer loop's watchdog exists for (a blocking read that never comes back).
 */
export class HungProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<HungProxy> {
    const server = createServer();
    const proxy = new HungProxy(server);
    server.on('connection', (client) => proxy.pipe(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address();
    return `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Freezes every connection open now; returns how many. */
  freezeExisting(): number {
    for (const pair of this.pairs) pair.frozen = true;
    return this.pairs.size;
  }

  private pipe(client: Socket, targetPort: number): void {
    const upstream = new Socket();
    const pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    upstream.connect(targetPort, '127.0.0.1');
    client.on('data', (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
