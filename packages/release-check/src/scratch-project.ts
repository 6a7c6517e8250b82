import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, type RunResult, run } from './run.js';

const CONSUMER_DIR = fileURLToPath(new URL('../consumer/', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * A project in the system temp dir, outside the workspace, that takes `@pipe/*` from the private
 * registry and everything else from the public one, as a team consuming the package would.
 */
export class ScratchProject {
  private constructor(
    readonly root: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(registryUrl: string): Promise<ScratchProject> {
    const root = await mkdtemp(join(tmpdir(), 'pipe-consumer-'));
    await writeFile(
      join(root, 'package.json'),
      `${JSON.stringify({ name: 'pipe-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    // A user config of our own: the scope mapping, and nothing from ~/.npmrc (tokens, lockfile options).
    const userConfig = join(root, '.npmrc-user');
    await writeFile(userConfig, `@pipe:registry=${registryUrl}\n`);
    return new ScratchProject(root, cleanEnv({ npm_config_userconfig: userConfig }));
  }

  /** npm install; --prefer-online so a package document cached from an earlier run's registry is not reused. */
  install(specs: string[]): Promise<RunResult> {
    return run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-online', '--loglevel=error', ...specs],
      {
        cwd: this.root,
        env: this.env,
      },
    );
  }

  /** Where npm says an installed package came from (package-lock.json's `resolved`). */
  async resolvedUrl(name: string): Promise<string | undefined> {
    const lock = JSON.parse(await readFile(join(this.root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    return lock.packages[`node_modules/${name}`]?.resolved;
  }

  async installedVersion(name: string): Promise<string> {
    const manifest = JSON.parse(
      await readFile(join(this.root, 'node_modules', name, 'package.json'), 'utf8'),
    );
    return manifest.version as string;
  }

  /** Copies consumer/ (the program and its strict NodeNext tsconfig) in and compiles it with tsc. */
  async compileConsumer(): Promise<RunResult> {
    for (const file of ['consumer.ts', 'tsconfig.json'])
      await copyFile(join(CONSUMER_DIR, file), join(this.root, file));
    return run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: this.root, env: this.env });
  }

  /** Runs the compiled consumer: an ESM import of the installed package. */
  runConsumer(args: string[]): Promise<RunResult> {
    return run(process.execPath, ['consumer.js', ...args], {
      cwd: this.root,
      env: this.env,
      timeoutMs: 30_000,
    });
  }

  /** The runtime export names of the installed package, from a bare `import('@pipe/streams')`. */
  async exportNames(name: string): Promise<string[]> {
    const script = `import(${JSON.stringify(name)}).then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: this.root,
      env: this.env,
    });
    return JSON.parse(stdout) as string[];
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
