import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProductCloud, startProductCloud } from '../device/support/cloud.js';
import { enrollDevice } from '../device/support/device.js';
import { type Installed, NOT_FOR_USERS, packAndInstall } from './support/install.js';

/**
 * What users install: the device client and the ops CLI packed from their workspaces, installed
 * into an empty directory with `npm install --omit=dev`, and run with plain `node`.
 */

const REGION = 'us-east-1';

function runNode(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => /\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts'));
}

let cloud: ProductCloud;
let device: Installed;
let ops: Installed;

beforeAll(async () => {
  // Settled, not Promise.all: if one part fails, the others are still assigned, so afterAll
  // stops the cloud and removes the installs (about 100 MB each in the OS temp dir).
  const results = await Promise.allSettled([
    startProductCloud([REGION]).then((started) => (cloud = started)),
    packAndInstall('device').then((installed) => (device = installed)),
    packAndInstall('ops').then((installed) => (ops = installed)),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}, 240_000);

afterAll(async () => {
  device?.remove();
  ops?.remove();
  await cloud?.close();
});

describe.each([
  ['device', 'iot-provision', () => device],
  ['ops', 'iot-ops', () => ops],
] as const)('the %s package, installed', (folder, bin, installed) => {
  it('holds no emulator, build tool, test tool or TypeScript source', () => {
    // Act
    const packages = installed().packages();
    const sources = typeScriptFiles(join(installed().dir, 'node_modules', `@global-iot/${folder}`));

    // Assess
    expect(packages).toContain(`@global-iot/${folder}`);
    expect(packages.filter((name) => NOT_FOR_USERS.includes(name))).toEqual([]);
    expect(sources).toEqual([]);
  });

  it(`answers ${bin} --help with plain node`, async () => {
    // Act
    const help = await runNode([installed().bin(bin), '--help'], installed().dir);

    // Assess
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: /);
  });
});

describe('the installed device client', () => {
  it('provisions a device against the local cloud', async () => {
    // Prepare
    const enrolled = await enrollDevice(cloud, 'installed-client', '127.0.0.1');
    const config = join(enrolled.dir, 'device.json');
    writeFileSync(
      config,
      JSON.stringify({
        thingName: enrolled.thingName,
        signingKey: enrolled.signingKeyPath,
        claimCert: cloud.cloud.paths.claimCert,
        claimKey: cloud.cloud.paths.claimKey,
        ca: cloud.cloud.paths.rootCa,
        bootstrapUrl: cloud.bootstrapUrl.href,
        out: join(enrolled.dir, 'out'),
        port: cloud.cloud.region(REGION).endpoint.port,
      }),
    );

    // Act
    const run = await runNode([device.bin('iot-provision'), '--config', config, '--json'], device.dir);

    // Assess
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const result = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).at(-1);
    expect(result).toMatchObject({ event: 'result', outcome: 'provisioned', thingName: 'installed-client' });
    expect((await cloud.registry.get('installed-client'))?.aws_region).toBe(REGION);
  });
});

describe('the installed ops CLI', () => {
  it('enrols a device in the local cloud and reads it back', async () => {
    // Prepare
    const configPath = join(ops.dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ homeRegion: REGION, regions: [REGION], defaultRegion: REGION }));
    const endpoint = ['--config', configPath, '--endpoint-dynamodb', cloud.cloud.dynamo?.endpoint ?? ''];

    // Act
    const enrol = await runNode([ops.bin('iot-ops'), 'enroll', 'installed-ops-device', ...endpoint, '--json'], ops.dir);
    const status = await runNode([ops.bin('iot-ops'), 'status', 'installed-ops-device', ...endpoint, '--json'], ops.dir);

    // Assess
    expect({ code: enrol.code, stderr: enrol.stderr }).toEqual({ code: 0, stderr: '' });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ thing_name: 'installed-ops-device', prov_status: 'unprovisioned' });
    expect((await cloud.registry.get('installed-ops-device'))?.prov_status).toBe('unprovisioned');
  });
});
