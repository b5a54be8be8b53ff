import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../helpers/packages.js';

export const WORKSPACES = ['core', 'bootstrap-service', 'pre-provisioning-hook', 'device', 'ops', 'infra', 'local', 'tools'] as const;
export type Workspace = (typeof WORKSPACES)[number];

export interface Manifest {
  name: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  /** Built into bundles (tools/build-package.ts): its devDependencies ship inside them. */
  bundles: boolean;
}

export function readManifest(folder: string): Manifest {
  const json = JSON.parse(readFileSync(join(REPO_ROOT, folder, 'package.json'), 'utf8')) as Partial<Manifest> & { name: string; entryPoints?: unknown };
  return { name: json.name, dependencies: json.dependencies ?? {}, devDependencies: json.devDependencies ?? {}, bundles: json.entryPoints !== undefined };
}

/** The workspace's own source files (no build output). */
export function sourceFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name === 'node_modules' || name === 'dist') continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(join(REPO_ROOT, folder));
  return out;
}

/** The module specifiers a file loads at run time: `import type` and `export type` load nothing. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) found.push(argument.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const builtins = new Set(builtinModules);

/** Where `@global-iot/<folder>/<path>.js` (or a relative `.js`) lives in the repository. */
function resolveSource(from: string, specifier: string): string | undefined {
  const base = specifier.startsWith('@global-iot/')
    ? join(REPO_ROOT, specifier.slice('@global-iot/'.length))
    : resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * The third-party packages the workspace's code needs at run time: its own value imports and
 * those of the workspace modules it bundles (its devDependencies: their code runs inside its
 * build). A workspace it depends on at run time brings its own package.json.
 */
export function runtimeImports(folder: Workspace): Set<string> {
  const dependsOn = new Set(Object.keys(readManifest(folder).dependencies).filter((n) => n.startsWith('@global-iot/')));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = sourceFiles(folder);
  while (queue.length > 0) {
    const file = queue.pop();
    if (file === undefined || seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
      if (dependsOn.has(packageName(specifier))) continue;
      if (specifier.startsWith('.') || specifier.startsWith('@global-iot/')) {
        const target = resolveSource(file, specifier);
        if (target) queue.push(target);
        else if (!specifier.startsWith('.')) packages.add(packageName(specifier));
        continue;
      }
      packages.add(packageName(specifier));
    }
  }
  return packages;
}
