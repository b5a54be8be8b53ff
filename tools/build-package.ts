/**
 * Builds a workspace that ships as JavaScript (the device client, the ops CLI) into its dist/:
 * one ESM bundle per entry point. Its `dependencies` stay external, for npm to install (the AWS
 * SDKs, and aws-crt with its native binary); its own TypeScript, the shared workspaces and the
 * pure-JavaScript `devDependencies` it lists for the purpose go inside, so a device image
 * carries no copy of zod's 8 MB of sources for the few kilobytes it runs. Anything else the
 * code reaches fails the build: the package.json stays the truth about what ships.
 *
 *   tsx ../tools/build-package.ts        (in the workspace's folder; `npm run build` there)
 *
 * The entry points are the package.json's `entryPoints`: output name to TypeScript source.
 */
import { readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import * as z from 'zod';

const manifestSchema = z.object({
  name: z.string(),
  engines: z.object({ node: z.string() }),
  dependencies: z.record(z.string(), z.string()).default({}),
  devDependencies: z.record(z.string(), z.string()).default({}),
  entryPoints: z.record(z.string().regex(/^[\w-]+$/), z.string().endsWith('.ts')),
});

const SCOPE = '@global-iot/';
const builtins = new Set(builtinModules);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Keeps dependencies external, bundles workspaces and development dependencies, refuses the rest. */
function dependenciesOnly(name: string, dependencies: ReadonlySet<string>, bundled: ReadonlySet<string>): Plugin {
  return {
    name: 'dependencies-only',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || builtins.has(args.path)) return { external: true };
        const pkg = packageName(args.path);
        if (dependencies.has(pkg)) return { external: true };
        if (pkg.startsWith(SCOPE) || bundled.has(pkg)) return undefined;
        return { errors: [{ text: `${args.path} is imported (by ${args.importer}) but ${name} lists it in neither dependencies nor devDependencies` }] };
      });
    },
  };
}

/** Builds the workspace in `dir` into `dir/dist`; resolves to the files written. */
export async function buildPackage(dir: string): Promise<string[]> {
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  const outdir = join(dir, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: dir,
    entryPoints: Object.entries(manifest.entryPoints).map(([name, entry]) => ({ in: entry, out: name })),
    metafile: true,
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'linked',
    legalComments: 'none',
    // Bundled CommonJS (commander) calls require() for Node's own modules: give it one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
    plugins: [dependenciesOnly(manifest.name, new Set(Object.keys(manifest.dependencies)), new Set(Object.keys(manifest.devDependencies)))],
  });
  return Object.keys(result.metafile.outputs);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    await buildPackage(process.cwd());
  } catch (error) {
    process.stderr.write(`build-package: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
