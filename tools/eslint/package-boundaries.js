// @ts-check
/**
 * ESLint rule `boundaries/packages`: every workspace imports other workspaces by package name,
 * declares what it imports in its own package.json, and the shipped parts never reach the
 * emulator, the build tools, the tests or the benchmarks.
 *
 * Why a rule and not only a review: what a user installs (device client, ops CLI, Lambda bundles)
 * is built from these imports, so one stray import of local/ would ship the emulator.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCOPE = '@global-iot/';

/** Folders that are what users install or deploy. */
export const PRODUCT_PACKAGES = ['core', 'bootstrap-service', 'pre-provisioning-hook', 'device', 'ops', 'infra'];
/** Folders that only developers run. */
export const DEVELOPER_PACKAGES = ['local', 'tools'];
/** Root folders outside any workspace: the product must never import them. */
const ROOT_ONLY = ['test', 'bench'];

/** @typedef {{ name: string; dependencies: Set<string>; devDependencies: Set<string>; bundles: boolean }} Manifest */

/** @type {Map<string, Manifest>} */
const manifests = new Map();

/** @param {string} folder a workspace folder, or '' for the repository's own package.json */
function manifestOf(folder) {
  const cached = manifests.get(folder);
  if (cached) return cached;
  /** @type {{ name: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; entryPoints?: unknown }} */
  const json = JSON.parse(readFileSync(join(ROOT, folder, 'package.json'), 'utf8'));
  const manifest = {
    name: json.name,
    dependencies: new Set(Object.keys(json.dependencies ?? {})),
    devDependencies: new Set(Object.keys(json.devDependencies ?? {})),
    // A workspace built into bundles (tools/build-package.ts) carries its devDependencies inside.
    bundles: json.entryPoints !== undefined,
  };
  manifests.set(folder, manifest);
  return manifest;
}

/** The workspace folder a file belongs to, or '' for files outside every workspace. */
function folderOf(/** @type {string} */ file) {
  const [top] = relative(ROOT, file).split(sep);
  return top !== undefined && [...PRODUCT_PACKAGES, ...DEVELOPER_PACKAGES].includes(top) ? top : '';
}

/** `@scope/name` or `name` of a bare specifier. */
function packageName(/** @type {string} */ specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const builtins = new Set(builtinModules);

/** @type {import('eslint').Rule.RuleModule} */
export const packagesRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Workspaces import each other by name, declare their imports, and keep the product free of the emulator.' },
    schema: [],
    messages: {
      relative: "'{{specifier}}' reaches into {{target}}/ by a relative path: import '{{suggestion}}' (and declare it in {{folder}}/package.json).",
      forbidden: "{{folder}}/ ships to users and must not import {{target}} ('{{specifier}}'): that is {{why}}.",
      undeclared: "'{{name}}' is imported by {{folder}}/ but not declared in {{manifest}}.",
    },
  },
  create(context) {
    const file = context.filename;
    const folder = folderOf(file);
    const product = PRODUCT_PACKAGES.includes(folder);
    const manifestFolder = folder;
    const manifestPath = folder === '' ? 'package.json' : `${folder}/package.json`;

    /** @param {import('estree').Node & { source?: unknown; importKind?: string; exportKind?: string }} node */
    function check(node) {
      const source = /** @type {{ type?: string; value?: unknown } | null | undefined} */ (node.source);
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string') return;
      const specifier = source.value;
      const typeOnly = node.importKind === 'type' || node.exportKind === 'type';

      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        const [top] = relative(ROOT, target).split(sep);
        if (top === undefined || top === '..') return;
        const targetFolder = folderOf(target);
        if (product && (ROOT_ONLY.includes(top) || DEVELOPER_PACKAGES.includes(top))) {
          context.report({ node: source, messageId: 'forbidden', data: { folder, target: `${top}/`, specifier, why: top === 'local' ? 'the emulator' : 'not shipped' } });
          return;
        }
        if (targetFolder !== '' && targetFolder !== folder) {
          const suggestion = SCOPE + relative(ROOT, target).split(sep).join('/');
          context.report({ node: source, messageId: 'relative', data: { specifier, target: targetFolder, suggestion, folder: folder || '(root)' } });
        }
        return;
      }

      if (specifier.startsWith('node:') || builtins.has(specifier)) return;
      const name = packageName(specifier);
      if (product && name.startsWith(SCOPE) && DEVELOPER_PACKAGES.includes(name.slice(SCOPE.length))) {
        context.report({ node: source, messageId: 'forbidden', data: { folder, target: name, specifier, why: name.endsWith('/local') ? 'the emulator' : 'a build tool' } });
        return;
      }
      const manifest = manifestOf(manifestFolder);
      if (name === manifest.name) return;
      const declared =
        manifest.dependencies.has(name) ||
        // Workspaces that a package bundles into its build, and types, are development dependencies.
        ((name.startsWith(SCOPE) || typeOnly || manifest.bundles || folder === '') && manifest.devDependencies.has(name)) ||
        (typeOnly && manifestOf('').devDependencies.has(`@types/${name}`)) ||
        (folder === '' && name.startsWith(SCOPE));
      if (!declared) context.report({ node: source, messageId: 'undeclared', data: { name, folder: folder || '(root)', manifest: manifestPath } });
    }

    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { rules: { packages: packagesRule } };
