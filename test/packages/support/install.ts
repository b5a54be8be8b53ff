import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../helpers/packages.js';

const run = promisify(execFile);

/** Packages a user's install must never contain: the emulator, build and test tools, TypeScript. */
export const NOT_FOR_USERS = [
  '@global-iot/local', '@global-iot/tools', '@global-iot/core', 'dynalite', 'mqtt-packet', 'cborg', 'd3-geo',
  'topojson-client', 'world-atlas', 'tsx', 'typescript', 'esbuild', 'vitest', 'vite', 'eslint', 'fast-check',
  'aws-cdk-lib', 'aws-cdk', 'cdk-nag', 'playwright-core',
];

export interface Installed {
  /** The directory the package was installed into, as a user would (`npm install <tarball>`). */
  dir: string;
  /** `node_modules/.bin/<name>` */
  bin(name: string): string;
  /** Every package under node_modules, scoped ones as `@scope/name`. */
  packages(): string[];
  /** Removes the install, tarball and all (about 100 MB). */
  remove(): void;
}

/**
 * `npm pack` of a workspace (built already by the test setup, so no build runs here), then
 * `npm install --omit=dev <tarball>` into an empty directory outside the repository, with npm's
 * cache preferred so the run needs no network for what `npm ci` already fetched. The caller
 * removes it with `remove()`; a failed install removes itself.
 */
export async function packAndInstall(folder: string): Promise<Installed> {
  const dir = mkdtempSync(join(tmpdir(), `install-${folder}-`));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const packDir = join(dir, 'pack');
  const appDir = join(dir, 'app');
  try {
    mkdirSync(packDir);
    mkdirSync(appDir);
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: join(REPO_ROOT, folder) });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    if (!packed) throw new Error(`npm pack of ${folder} wrote no tarball`);
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'install-check', private: true }));
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, packed.filename)], { cwd: appDir, timeout: 180_000 });
  } catch (error) {
    remove();
    throw error;
  }
  return {
    dir: appDir,
    bin: (name) => join(appDir, 'node_modules', '.bin', name),
    packages: () => {
      const root = join(appDir, 'node_modules');
      return readdirSync(root)
        .filter((name) => !name.startsWith('.'))
        .flatMap((name) => (name.startsWith('@') ? readdirSync(join(root, name)).map((inner) => `${name}/${inner}`) : [name]));
    },
    remove,
  };
}
