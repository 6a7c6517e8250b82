import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { RedisServer, sleep } from './redis-server.js';

const run = promisify(execFile);

/** A local Redis Cluster of `masters` real redis-server processes, no replicas. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < masters; i++) {
      nodes.push(await RedisServer.start({ cluster: true, port: await freePort(55_536) }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    const cluster = new RedisCluster(nodes);
    await cluster.waitUntilOk();
    return cluster;
  }

  /** `host:port` seeds, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  private async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(this.nodes[0]!.port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok: ${stdout}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
