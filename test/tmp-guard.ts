import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * Caches that tools the tests start keep in os.tmpdir() on purpose, under fixed names, and reuse
 * from run to run: npm turns on Node's compile cache (`node-compile-cache`), tsx keeps its
 * transforms in `tsx-<uid>`. In the run's temp dir they are links to the real ones, so child
 * processes start as fast as before, and they are not counted as left behind.
 */
const SHARED_CACHES = ['node-compile-cache', `tsx-${process.geteuid?.() ?? userInfo().username}`];

/**
 * Keeps the suite from leaving files in the OS temp dir. Tests and their helpers make folders
 * there (mkdtemp, `npm pack` and `npm install`, aws-cdk-lib's cloud assemblies, openssl's
 * output) and must remove them; runs once left about 200 MB in /tmp each.
 *
 * The run gets a temp dir of its own: TMPDIR names a fresh folder in the OS temp dir before
 * any test process starts, so os.tmpdir() answers it in every test process and in whatever
 * they start (npm, openssl, Chromium) with the inherited environment. Only the suite writes in
 * that folder, so what is still there at the end was left by the suite (but SHARED_CACHES): no
 * list of name patterns to keep up to date, and no other process on the machine, nor another
 * test run at the same time, can make the check fail. The teardown names what is left, fails
 * the run (exit code 1) and removes the folder, so a leak is reported once, not piled up.
 * A process started with an environment of its own, without TMPDIR, writes in the real temp
 * dir and is not seen here.
 *
 * Listed first in globalSetup, so that its teardown runs last.
 */
export default function setup(): () => void {
  const previous = process.env['TMPDIR'];
  const outer = tmpdir();
  const runDir = mkdtempSync(join(outer, 'vitest-run-'));
  for (const name of SHARED_CACHES) {
    mkdirSync(join(outer, name), { recursive: true });
    symlinkSync(join(outer, name), join(runDir, name));
  }
  process.env['TMPDIR'] = runDir;
  return () => {
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    const left = readdirSync(runDir)
      .filter((name) => !SHARED_CACHES.includes(name))
      .sort();
    if (left.length > 0) {
      const lines = left.map((name) => `  ${name} (${megabytes(join(runDir, name))})`);
      console.error(
        [
          '',
          `test/tmp-guard.ts: the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the OS temp dir (os.tmpdir(), ${runDir} for this run):`,
          ...lines,
          'Whatever makes them must remove them: in afterAll/afterEach, a finally, or onTestFinished.',
          'The run fails for this; the entries are removed now.',
          '',
        ].join('\n'),
      );
      process.exitCode = 1;
    }
    // Removes the links to the shared caches, not the caches.
    rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  };
}

/** The size of a file or folder, as "12.3 MB". */
function megabytes(path: string): string {
  let bytes = 0;
  const add = (p: string): void => {
    try {
      const stat = lstatSync(p);
      bytes += stat.size;
      if (stat.isDirectory()) for (const name of readdirSync(p)) add(join(p, name));
    } catch {
      // Removed meanwhile, or unreadable: the size is only a hint.
    }
  };
  add(path);
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
