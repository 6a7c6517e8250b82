import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { killAndWait, sleep } from './redis-server.js';
import type { TlsFiles } from './tls.js';

export interface MosquittoOptions {
  /** Reuse a fixed port (a restart keeps it); a free one otherwise. */
  port?: number;
  /** Serve MQTT over TLS only (mqtts://), with the server certificate of these files. */
  tls?: TlsFiles;
  /** With tls: refuse clients without a certificate signed by the files' CA. */
  requireClientCertificate?: boolean;
  /** Users and their passwords (a mosquitto_passwd file); anonymous clients are then refused. */
  users?: Record<string, string>;
}

/** Debian installs the broker in /usr/sbin, which a non-root PATH may lack. */
const BROKER_ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };

/**
 * One real `mosquitto` broker (Debian's) in its own temp dir: a config file listening on 127.0.0.1 only,
 * anonymous clients allowed unless `users` are given, TLS only with `tls`, persistence in the dir (a
 * persistent session and its queued QoS 1 messages survive a restart by SIGTERM, which saves the
 * database). Killed by pid at stop.
 */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly tls: TlsFiles | undefined,
  ) {}

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = options.port ?? (await freePort());
    const dir = await mkdtemp(join(tmpdir(), 'pipe-mosquitto-'));
    const { tls, users } = options;
    const passwordFile = join(dir, 'passwords');
    if (users) {
      await writeFile(passwordFile, '', { mode: 0o600 });
      for (const [name, password] of Object.entries(users))
        await promisify(execFile)('mosquitto_passwd', ['-b', passwordFile, name, password], {
          env: BROKER_ENV,
        });
    }
    const config = [
      `listener ${port} 127.0.0.1`,
      ...(tls
        ? [
            `cafile ${tls.ca}`,
            `certfile ${tls.serverCert}`,
            `keyfile ${tls.serverKey}`,
            `require_certificate ${options.requireClientCertificate ? 'true' : 'false'}`,
          ]
        : []),
      ...(users ? ['allow_anonymous false', `password_file ${passwordFile}`] : ['allow_anonymous true']),
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
    const broker = new Mosquitto(port, dir, tls);
    await broker.launch();
    return broker;
  }

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the broker printed (its log), for a failing test's message. */
  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: BROKER_ENV,
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
    await Promise.race([waitForConnack(this.port, this.tls), exited]);
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

/**
 * An MQTT 3.1.1 CONNECT (clean session, empty client id): the broker is up once it answers CONNACK, with
 * 0 or, when it wants a user, 5 (not authorized).
 */
const CONNECT = Buffer.from([
  0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
]);

async function waitForConnack(port: number, tls: TlsFiles | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      // Only whether the broker answers: its certificate is the test's subject, not this probe's.
      const socket = tls
        ? connectTls({
            port,
            host: '127.0.0.1',
            rejectUnauthorized: false,
            cert: readFileSync(tls.clientCert),
            key: readFileSync(tls.clientKey),
          })
        : new Socket().connect(port, '127.0.0.1');
      socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(CONNECT));
      socket.once('data', (data: Buffer) => {
        socket.destroy();
        resolve(data[0] === 0x20 && (data[3] === 0x00 || data[3] === 0x05));
      });
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto on ${port} did not answer CONNECT`);
    await sleep(20);
  }
}
