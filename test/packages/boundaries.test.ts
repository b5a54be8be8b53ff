import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/packages.js';

/**
 * The lint rule that keeps what users install free of the emulator, the tests and undeclared
 * packages (tools/eslint/package-boundaries.js): each case is a file it must refuse or accept.
 */
const eslint = new ESLint({ cwd: REPO_ROOT });

async function findings(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(REPO_ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'boundaries/packages').map((m) => m.message);
}

describe('boundaries/packages', () => {
  it.each([
    ['device/x.ts', "import { startLocalCloud } from '../local/cloud.js';\nexport { startLocalCloud };\n", /device\/ ships to users and must not import local\/.*the emulator/],
    ['bootstrap-service/x.ts', "import { startLocalCloud } from '@global-iot/local/cloud.js';\nexport { startLocalCloud };\n", /must not import @global-iot\/local.*the emulator/],
    ['core/x.ts', "import { selfSignedServerCert } from '../test/helpers/tls.js';\nexport { selfSignedServerCert };\n", /core\/ ships to users and must not import test\//],
    ['ops/x.ts', "import { loadGeoTable } from '@global-iot/tools/geo/build.js';\nexport { loadGeoTable };\n", /must not import @global-iot\/tools.*a build tool/],
    ['infra/x.ts', "export { x } from '../bench/stats.js';\n", /infra\/ ships to users and must not import bench\//],
    ['pre-provisioning-hook/x.ts', "const m = await import('../local/log.js');\nexport { m };\n", /must not import local\//],
  ])('refuses %s reaching the emulator, the tests or the benchmarks', async (file, code, message) => {
    // Act
    const messages = await findings(file, code);

    // Assess
    expect(messages).toEqual([expect.stringMatching(message)]);
  });

  it('refuses a relative path into another workspace, and names the package to import', async () => {
    // Act
    const messages = await findings('ops/x.ts', "import { ConfigError } from '../core/errors.js';\nexport { ConfigError };\n");

    // Assess
    expect(messages).toEqual([expect.stringContaining("import '@global-iot/core/errors.js'")]);
  });

  it('refuses a package the workspace does not declare', async () => {
    // Act
    const messages = await findings('bootstrap-service/x.ts', "import dynalite from 'dynalite';\nexport { dynalite };\n");

    // Assess
    expect(messages).toEqual(["'dynalite' is imported by bootstrap-service/ but not declared in bootstrap-service/package.json."]);
  });

  it('accepts declared packages, shared code by name, the emulator from the emulator, and type-only imports', async () => {
    // Act
    const results = await Promise.all([
      findings('device/x.ts', "import { mqtt } from 'aws-iot-device-sdk-v2';\nimport { ConfigError } from '@global-iot/core/errors.js';\nexport { mqtt, ConfigError };\n"),
      findings('local/x.ts', "import { startLocalCloud } from './cloud.js';\nimport { FileStore } from '@global-iot/device/store.js';\nexport { startLocalCloud, FileStore };\n"),
      findings('bootstrap-service/x.ts', "import type { APIGatewayProxyEventV2 } from 'aws-lambda';\nexport type E = APIGatewayProxyEventV2;\n"),
      findings('test/x.test.ts', "import { startLocalCloud } from '@global-iot/local/cloud.js';\nexport { startLocalCloud };\n"),
    ]);

    // Assess
    expect(results).toEqual([[], [], [], []]);
  });
});
