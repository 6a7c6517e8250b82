import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { randomPrefix } from './prefix.js';
import { RedisServer, sleep } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Replicas per master (redis-cli --cluster-replicas); the cluster is ready once every one synced. */
  replicas?: number;
}

/** A local Redis Cluster of `masters` real redis-server processes, with `replicas` each (default none). */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3, { replicas = 0 }: RedisClusterOptions = {}): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(await RedisServer.start({ cluster: true, port: await freePort(55_536) }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    const cluster = new RedisCluster(nodes);
    await cluster.waitUntilOk();
    if (replicas > 0) await cluster.waitForReplicas();
    return cluster;
  }

  /** The node's view of the cluster: one line per node (id, address, flags, master, …, slots). */
  private async clusterNodes(via = this.live()[0]!): Promise<string[][]> {
    const { stdout } = await run('redis-cli', ['-p', String(via.port), 'cluster', 'nodes']);
    return stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
  }

  private live(): RedisServer[] {
    return this.nodes.filter((n) => n.pid !== undefined);
  }

  /** The server that is master of `key`'s slot now. */
  async masterOf(key: string): Promise<RedisServer> {
    const via = this.live()[0]!;
    const { stdout } = await run('redis-cli', ['-p', String(via.port), 'cluster', 'keyslot', key]);
    const slot = Number(stdout);
    for (const [, address = '', flags = '', , , , , , ...ranges] of await this.clusterNodes(via)) {
      if (!flags.includes('master') || flags.includes('fail')) continue;
      for (const range of ranges) {
        const [lo, hi = lo] = range.split('-').map(Number);
        if (slot < lo! || slot > hi!) continue;
        const port = Number(address.split('@')[0]!.split(':')[1]);
        const node = this.nodes.find((n) => n.port === port);
        if (node) return node;
      }
    }
    throw new Error(`no master serves ${key} (slot ${slot})`);
  }

  /** The servers that are masters now (owning slots), in `nodes` order. */
  async masters(): Promise<RedisServer[]> {
    const ports = new Set<number>();
    for (const [, address = '', flags = '', , , , , , ...ranges] of await this.clusterNodes()) {
      if (flags.includes('master') && !flags.includes('fail') && ranges.length > 0)
        ports.add(Number(address.split('@')[0]!.split(':')[1]));
    }
    return this.nodes.filter((n) => ports.has(n.port));
  }

  /**
   * kill -9 of a master; resolves with the replica promoted in its place once the cluster is ok again.
   * The killed node stays down (its `restart()` brings it back as a replica of the promoted one).
   */
  async failMaster(master: RedisServer, timeoutMs = 30_000): Promise<RedisServer> {
    const ports = new Set((await this.masters()).map((n) => n.port));
    if (!ports.has(master.port)) throw new Error(`${master.port} is not a master`);
    await master.kill('SIGKILL');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.masters().catch(() => []);
      const promoted = now.find((n) => !ports.has(n.port));
      if (promoted) {
        await this.waitUntilOk(timeoutMs);
        return promoted;
      }
      if (Date.now() > deadline) throw new Error(`no replica took over from ${master.port}`);
      await sleep(100);
    }
  }

  /** failMaster of the master of `key`'s slot. */
  async failMasterOf(key: string, timeoutMs = 30_000): Promise<RedisServer> {
    return this.failMaster(await this.masterOf(key), timeoutMs);
  }

  /** Waits until every running replica's link to its master is up (it has the master's data). */
  async waitForReplicas(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const node of this.live()) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(node.port), 'info', 'replication']);
        if (stdout.includes('role:master') || stdout.includes('master_link_status:up')) break;
        if (Date.now() > deadline) throw new Error(`replica ${node.port} did not sync: ${stdout}`);
        await sleep(100);
      }
    }
  }

  /** `host:port` seeds, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** How many masters own the slots of these keys (from CLUSTER KEYSLOT and CLUSTER NODES). */
  async mastersOf(keys: string[]): Promise<number> {
    const cli = (...args: string[]) =>
      run('redis-cli', ['-p', String(this.live()[0]!.port), 'cluster', ...args]);
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
      const { stdout } = await run('redis-cli', ['-p', String(this.live()[0]!.port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok: ${stdout}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
