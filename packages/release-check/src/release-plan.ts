import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run.js';

export interface ReleasePlan {
  changesets: { id: string; summary: string; releases: { name: string; type: string }[] }[];
  releases: { name: string; type: string; oldVersion: string; newVersion: string; changesets: string[] }[];
}

/** What `changeset version` is about to do in `root`, from `changeset status --output`. */
export async function readReleasePlan(root: string, env: NodeJS.ProcessEnv): Promise<ReleasePlan> {
  const file = join(root, '.release-plan.json');
  await run('pnpm', ['exec', 'changeset', 'status', `--output=${file}`], { cwd: root, env });
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ReleasePlan;
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * The plan for `name`. Right after a real release no changeset is pending; then a patch changeset is
 * written (in the copy only) so that the check still goes the whole way.
 */
export async function pendingRelease(
  root: string,
  env: NodeJS.ProcessEnv,
  name: string,
): Promise<{ release: ReleasePlan['releases'][number]; changesets: ReleasePlan['changesets'] }> {
  let plan = await readReleasePlan(root, env);
  if (!plan.releases.some((r) => r.name === name)) {
    await writeFile(
      join(root, '.changeset', 'release-check.md'),
      `---\n"${name}": patch\n---\n\nRelease check of ${name}.\n`,
    );
    plan = await readReleasePlan(root, env);
  }
  const release = plan.releases.find((r) => r.name === name);
  if (!release) throw new Error(`changeset status plans no release of ${name}: ${JSON.stringify(plan)}`);
  return { release, changesets: plan.changesets.filter((c) => c.releases.some((r) => r.name === name)) };
}
