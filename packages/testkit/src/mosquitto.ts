import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { killAndWait, sleep } from './redis-server.js';

export interface MosquittoOptions {
  /** Reuse a fixed port (a restart keeps it); a free one otherwise. */
  port?: number;
}

/**
 * One real `mosquitto` broker (Debian's) in its own temp dir: a config file listening on 127.0.0.1 only,
 * anonymous clients allowed, persistence in the dir (a persistent session and its queued QoS 1 messages
 * survive a restart by SIGTERM, which saves the database). Killed by pid at stop.
 */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = options.port ?? (await freePort());
    const dir = await mkdtemp(join(tmpdir(), 'pipe-mosquitto-'));
    const config = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Started as root, mosquitto would switch to its own user, which cannot write the temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      // The default caps a client's queued messages at 1000: a bridge that is down for a while must find them all.
      'max_queued_messages 0',
      'max_inflight_messages 0',
      '',
    ].join('\n');
    await writeFile(join(dir, 'mosquitto.conf'), config);
    const broker = new Mosquitto(port, dir);
    await broker.launch();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the broker printed (its log), for a failing test's message. */
  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    // Debian installs the broker in /usr/sbin, which a non-root PATH may lack.
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`mosquitto exited with ${code}: ${this.output.slice(-2000)}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([waitForConnack(this.port), exited]);
  }

  /** Sends a signal and waits for the broker to end (SIGTERM saves its persistence database first). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await killAndWait(this.child, signal);
    this.child = undefined;
  }

  /** Stops the broker (SIGTERM: sessions and queued messages are saved) and starts it on the same port and dir. */
  async restart({ downMs = 0, signal = 'SIGTERM' }: { downMs?: number; signal?: NodeJS.Signals } = {}) {
    await this.kill(signal);
    await sleep(downMs);
    await this.launch();
  }

  /** Kills the broker and removes its dir. */
  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** An MQTT 3.1.1 CONNECT (clean session, empty client id): the broker is up once it answers CONNACK 0. */
const CONNECT = Buffer.from([
  0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
]);

async function waitForConnack(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => socket.write(CONNECT));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data[0] === 0x20 && data[3] === 0x00);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto on ${port} did not answer CONNECT`);
    await sleep(20);
  }
}
