import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * A throwaway copy of the repository as it is on disk (tracked and untracked files that git does not
 * ignore), committed on `main` in a git repository of its own. `changeset version` rewrites files and
 * `changeset publish` tags commits there, never in the real checkout. node_modules are symlinks to the
 * real ones: the release needs the installed tools (changesets, turbo, tsc), not a second install.
 */
export class WorkspaceCopy {
  private constructor(readonly root: string) {}

  static async create(source = REPO_ROOT): Promise<WorkspaceCopy> {
    const root = await mkdtemp(join(tmpdir(), 'pipe-release-'));
    const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: source,
    });
    // Files deleted in the working tree but still in the index are listed too: copy what exists.
    const files = listed.stdout.split('\0').filter((file) => file && existsSync(join(source, file)));
    for (const file of files) {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await copyFile(join(source, file), join(root, file));
    }
    for (const dir of await packageDirs(source)) {
      const modules = join(source, dir, 'node_modules');
      if (existsSync(modules) && existsSync(join(root, dir)))
        await symlink(modules, join(root, dir, 'node_modules'));
    }
    const git = (...args: string[]) => run('git', args, { cwd: root });
    await git('init', '-q', '-b', 'main');
    // The node_modules symlinks are files to git, which `node_modules/` in .gitignore does not match.
    await appendFile(join(root, '.git', 'info', 'exclude'), 'node_modules\n');
    // changeset publish makes annotated tags: it needs an identity, and no signing key of the user's.
    await git('config', 'user.name', 'release-check');
    await git('config', 'user.email', 'release-check@localhost');
    await git('config', 'commit.gpgsign', 'false');
    await git('config', 'tag.gpgsign', 'false');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'copy of the working tree');
    return new WorkspaceCopy(root);
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The root and every workspace package folder (the `dir/*` globs of pnpm-workspace.yaml), relative to the root. */
async function packageDirs(root: string): Promise<string[]> {
  const workspace = await readFile(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const parents = [...workspace.matchAll(/^\s*-\s*['"]?([\w./-]+)\/\*['"]?\s*$/gm)].map((match) => match[1]!);
  const dirs = ['.'];
  for (const parent of parents) {
    if (!existsSync(join(root, parent))) continue;
    for (const entry of await readdir(join(root, parent), { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(parent, entry.name));
    }
  }
  return dirs;
}
