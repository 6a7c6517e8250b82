import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { randomPrefix } from './prefix.js';
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

  /** How many masters own the slots of these keys (from CLUSTER KEYSLOT and CLUSTER NODES). */
  async mastersOf(keys: string[]): Promise<number> {
    const cli = (...args: string[]) =>
      run('redis-cli', ['-p', String(this.nodes[0]!.port), 'cluster', ...args]);
    const slots = await Promise.all(keys.map(async (key) => Number((await cli('keyslot', key)).stdout)));
    const owners = new Set<string>();
    for (const line of (await cli('nodes')).stdout.trim().split('\n')) {
      const [id, , flags = '', , , , , , ...ranges] = line.split(' ');
      if (!flags.includes('master')) continue;
      for (const range of ranges) {
        const [lo, hi = lo] = range.split('-').map(Number);
        if (slots.some((slot) => slot >= lo! && slot <= hi!)) owners.add(id!);
      }
    }
    return owners.size;
  }

  /**
   * A random key prefix under which `keysFor(prefix)` live on at least `masters` masters, so a test
   * of cross-master behaviour cannot pass by luck of the draw (random keys share a master often).
   */
  async prefixSpanning(name: string, keysFor: (prefix: string) => string[], masters = 2): Promise<string> {
    for (let tries = 0; tries < 200; tries++) {
      const prefix = randomPrefix(name);
      if ((await this.mastersOf(keysFor(prefix))) >= masters) return prefix;
    }
    throw new Error(`no prefix puts these keys on ${masters} masters`);
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
