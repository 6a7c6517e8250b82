import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from '@pipe/testkit';
import { cleanEnv, run } from './run.js';

const REGISTRY_DIR = fileURLToPath(new URL('../registry/', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/verdaccio/', import.meta.url));

/**
 * Installs Verdaccio with npm (package.json + package-lock.json in registry/, with the node-fetch
 * override it needs on Node 20) into a cache keyed by the lockfile, outside the pnpm workspace, so the
 * workspace lockfile stays free of its ~330 packages. Returns the path of its bin script.
 */
export async function installVerdaccio(): Promise<{ bin: string; installedMs: number }> {
  const lock = await readFile(join(REGISTRY_DIR, 'package-lock.json'));
  const manifest = await readFile(join(REGISTRY_DIR, 'package.json'));
  const key = createHash('sha256').update(manifest).update(lock).digest('hex').slice(0, 16);
  const target = join(CACHE_DIR, key);
  const bin = join(target, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  if (existsSync(bin)) return { bin, installedMs: 0 };
  const started = Date.now();
  await mkdir(CACHE_DIR, { recursive: true });
  // Install beside the target and rename, so a run that dies half-way never leaves a broken cache.
  const staging = await mkdtemp(join(CACHE_DIR, 'staging-'));
  try {
    await copyFile(join(REGISTRY_DIR, 'package.json'), join(staging, 'package.json'));
    await copyFile(join(REGISTRY_DIR, 'package-lock.json'), join(staging, 'package-lock.json'));
    await run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: staging,
      env: cleanEnv({}),
      timeoutMs: 300_000,
    });
    await rename(staging, target).catch(async (err) => {
      // Another run installed the same key meanwhile: use theirs.
      if (!existsSync(bin)) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { bin, installedMs: Date.now() - started };
}

/** One Verdaccio process on a free 127.0.0.1 port with its own temp storage, killed by pid at stop. */
export class Verdaccio {
  private constructor(
    readonly url: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly output: () => string,
  ) {}

  static async start(bin: string): Promise<Verdaccio> {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-verdaccio-'));
    await copyFile(join(REGISTRY_DIR, 'config.yaml'), join(dir, 'config.yaml'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const child = spawn(
      process.execPath,
      [bin, '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
      { cwd: dir, env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const verdaccio = new Verdaccio(url, dir, child, () => output);
    try {
      await verdaccio.waitUntilUp();
    } catch (err) {
      await verdaccio.stop();
      throw err;
    }
    return verdaccio;
  }

  /** What the registry printed, for failure messages. */
  get log(): string {
    return this.output();
  }

  private async waitUntilUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null)
        throw new Error(`verdaccio exited with ${this.child.exitCode}: ${this.log}`);
      const up = await fetch(new URL('-/ping', this.url)).then(
        (res) => res.ok,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`verdaccio did not answer on ${this.url}: ${this.log}`);
      await sleep(100);
    }
  }

  /** Registers a user the way `npm adduser` does and returns its bearer token. */
  async addUser(name: string, password: string): Promise<string> {
    const res = await fetch(new URL(`-/user/org.couchdb.user:${encodeURIComponent(name)}`, this.url), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password }),
    });
    const body = (await res.json()) as { token?: string; error?: string };
    if (!res.ok || !body.token)
      throw new Error(`adding user ${name} failed (${res.status}): ${JSON.stringify(body)}`);
    return body.token;
  }

  /** The registry's document for a package (its versions and dist-tags), or undefined when it has none. */
  async packument(name: string): Promise<Packument | undefined> {
    const res = await fetch(new URL(name.replace('/', '%2f'), this.url));
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${name} from ${this.url} failed with ${res.status}`);
    return (await res.json()) as Packument;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { version: string; dist: { tarball: string; fileCount?: number } }>;
}
