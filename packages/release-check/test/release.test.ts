import type {} from '@pipe/testkit/global-setup';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as workspaceStreams from '@pipe/streams';
import { PipelineKeys, type Reading } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ReleasePlan, pendingRelease } from '../src/release-plan.js';
import { cleanEnv, run } from '../src/run.js';
import { ScratchProject } from '../src/scratch-project.js';
import { installVerdaccio, Verdaccio } from '../src/verdaccio.js';
import { REPO_ROOT, WorkspaceCopy } from '../src/workspace-copy.js';

const PACKAGE = '@pipe/streams';
const PACKAGE_DIR = 'packages/streams';

describe('releasing @pipe/streams with changesets to a private registry', () => {
  const timings: Record<string, number> = {};
  let verdaccio: Verdaccio | undefined;
  let copy: WorkspaceCopy | undefined;
  let scratch: ScratchProject | undefined;
  let planned: ReleasePlan['releases'][number];
  let pendingChangesets: ReleasePlan['changesets'];
  let changedByVersion: string[];

  async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = Date.now() - started;
    }
  }

  beforeAll(async () => {
    const { bin } = await step('install verdaccio (cached after the first run)', installVerdaccio);
    verdaccio = await step('start verdaccio', () => Verdaccio.start(bin));
    const registry = verdaccio.url;
    const token = await verdaccio.addUser('release-check', randomBytes(12).toString('hex'));
    const userConfig = join(verdaccio.dir, 'publisher.npmrc');
    await writeFile(userConfig, `registry=${registry}\n//${new URL(registry).host}/:_authToken=${token}\n`);
    // Every step of the real release path sees this registry and this token only.
    const env = cleanEnv({
      npm_config_registry: registry,
      npm_config_userconfig: userConfig,
      TURBO_TELEMETRY_DISABLED: '1',
    });

    const workspace = await step('copy the working tree', () => WorkspaceCopy.create());
    copy = workspace;
    ({ release: planned, changesets: pendingChangesets } = await pendingRelease(
      workspace.root,
      env,
      PACKAGE,
    ));

    await step('pnpm version-packages', () =>
      run('pnpm', ['run', 'version-packages'], { cwd: workspace.root, env }),
    );
    const status = await run('git', ['status', '--porcelain', '--untracked-files=all'], {
      cwd: workspace.root,
    });
    changedByVersion = status.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    await step('pnpm release (build + changeset publish)', () =>
      run('pnpm', ['run', 'release'], { cwd: workspace.root, env }),
    );
    scratch = await ScratchProject.create(registry);
    const project = scratch;
    await step('npm install in the scratch project', () =>
      project.install([PACKAGE, 'ioredis@^5', 'zod@^4', '@types/node@^20']),
    );
  });

  afterAll(async () => {
    await verdaccio?.stop();
    await copy?.remove();
    await scratch?.remove();
    const lines = Object.entries(timings).map(([name, ms]) => `  ${name}: ${(ms / 1000).toFixed(1)} s`);
    console.log(`release check timings:\n${lines.join('\n')}`);
  });

  it('versions the package from its pending changesets, with a changelog entry for each', async () => {
    const manifest = JSON.parse(await readFile(copy!.path(PACKAGE_DIR, 'package.json'), 'utf8'));
    expect(manifest.version).toBe(planned.newVersion);
    expect(planned.newVersion).not.toBe(planned.oldVersion);
    const changelog = await readFile(copy!.path(PACKAGE_DIR, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain(`## ${planned.newVersion}`);
    for (const changeset of pendingChangesets) expect(changelog).toContain(changeset.summary.split('\n')[0]);
    const left = (await readdir(copy!.path('.changeset'))).filter(
      (f) => f.endsWith('.md') && f !== 'README.md',
    );
    expect(left).toEqual([]);
    // Private packages keep their versions and ranges: only the published package and the consumed changesets change.
    expect(changedByVersion.filter((path) => !path.startsWith('.changeset/')).sort()).toEqual([
      `${PACKAGE_DIR}/CHANGELOG.md`,
      `${PACKAGE_DIR}/package.json`,
    ]);
  });

  it('publishes that version as latest, without workspace: ranges, and tags it', async () => {
    const packument = await verdaccio!.packument(PACKAGE);
    expect(packument?.['dist-tags'].latest).toBe(planned.newVersion);
    const published = packument!.versions[planned.newVersion]!;
    expect(JSON.stringify(published)).not.toContain('workspace:');
    expect(published.dist.tarball.startsWith(verdaccio!.url)).toBe(true);
    const tags = await run('git', ['tag', '--list'], { cwd: copy!.root });
    expect(tags.stdout.split('\n')).toContain(`${PACKAGE}@${planned.newVersion}`);
  });

  it('installs it from that registry into a project outside the workspace', async () => {
    expect(relative(REPO_ROOT, scratch!.root).startsWith('..')).toBe(true);
    expect(await scratch!.installedVersion(PACKAGE)).toBe(planned.newVersion);
    expect((await scratch!.resolvedUrl(PACKAGE))?.startsWith(verdaccio!.url)).toBe(true);
  });

  it('exposes the same runtime exports as the workspace build', async () => {
    expect(await scratch!.exportNames(PACKAGE)).toEqual(Object.keys(workspaceStreams).sort());
  });

  it('type-checks a strict NodeNext consumer against the published types and runs it against Redis', async () => {
    await step('tsc in the scratch project', () => scratch!.compileConsumer());
    const prefix = randomPrefix();
    const keys = new PipelineKeys(prefix);
    const reading: Reading = {
      device: 'release-probe',
      ts: Date.now(),
      temp_f: Math.round(600 + Math.random() * 300) / 10,
      humidity: Math.round(Math.random() * 1000) / 10,
    };
    const { stdout } = await scratch!.runConsumer([inject('redisUrl'), prefix, JSON.stringify(reading)]);
    const report = JSON.parse(stdout);
    const partition = keys.partitionKeyFor(reading.ts);
    expect(report).toMatchObject({
      version: planned.newVersion,
      partition,
      decoded: reading,
      deadLettered: [report.id],
    });
    expect(report.letters).toMatchObject([{ stream: partition, id: report.id, reason: 'release check' }]);

    const redis = new Redis(inject('redisUrl'));
    try {
      const [letter] = await redis.xrange(keys.deadLetters, '-', '+');
      expect(letter).toBeDefined();
      expect(await redis.xlen(partition)).toBe(1);
      const pending = (await redis.xpending(partition, 'release-check')) as [number, ...unknown[]];
      expect(pending[0]).toBe(0);
    } finally {
      await redis.quit();
    }
  });
});
