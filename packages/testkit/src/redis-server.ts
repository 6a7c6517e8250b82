import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { type TlsFiles, tlsServerArgs } from './tls.js';

export interface RedisServerOptions {
  /** appendonly yes with the given fsync policy. */
  aof?: 'everysec' | 'always';
  /** redis-server --cluster-enabled yes. */
  cluster?: boolean;
  /** Extra `--name value` arguments, e.g. ['--aclfile', path] or TLS settings. */
  args?: string[];
  /** Reuse a fixed port (for restarts); a free one otherwise. */
  port?: number;
  /** Reuse a data dir (for restarts that must find the AOF). */
  dir?: string;
  /** Serve TLS only on the port (client certificates required); see generateTlsFiles. */
  tls?: TlsFiles;
}

/** One real redis-server process in its own temp dir, killed by pid at stop. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'pipe-redis-')));
    const server = new RedisServer(port, dir, options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    const { aof, cluster, tls, args = [] } = this.options;
    const argv = [
      ...(tls ? ['--port', '0', ...tlsServerArgs(tls, this.port)] : ['--port', String(this.port)]),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--appendonly',
      aof ? 'yes' : 'no',
      ...(aof ? ['--appendfsync', aof] : []),
      ...(cluster
        ? [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
          ]
        : []),
      ...args,
    ];
    const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}: ${output.slice(-2000)}`)),
      ),
    );
    exited.catch(() => {});
    const portOpen = tls ? this.waitForLog(() => output) : waitForPort(this.port);
    await Promise.race([portOpen, exited]);
  }

  private async waitForLog(read: () => string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!/Ready to accept connections/.test(read())) {
      if (Date.now() > deadline) throw new Error('redis-server did not become ready');
      await sleep(20);
    }
  }

  /** Sends a signal and waits for the process to end (SIGKILL simulates a crash). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await killAndWait(this.child, signal);
    this.child = undefined;
  }

  /** Starts the server again on the same port and dir (an AOF is replayed when enabled). */
  async restart(options: { downMs?: number; signal?: NodeJS.Signals } = {}): Promise<void> {
    await this.kill(options.signal ?? 'SIGKILL');
    if (options.downMs) await sleep(options.downMs);
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    if (!this.options.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Signals a child process (if it still runs) and waits for it to end. */
export async function killAndWait(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await done;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.write('PING\r\n');
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING`);
    await sleep(20);
  }
}
