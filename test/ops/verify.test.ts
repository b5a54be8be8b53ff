import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpdateProvisioningTemplateCommand } from '@aws-sdk/client-iot';
import { LambdaClient, RemovePermissionCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { HOOK_FUNCTION_NAME } from '@global-iot/local/product.js';
import { runCli } from '@global-iot/ops/cli.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { type ProductCloud, startProductCloud } from '../device/support/cloud.js';
import { captureIo } from './helpers.js';

/**
 * `iot-ops verify` against the local cloud running the product in three regions: a sound one, one
 * whose hook AWS IoT may no longer invoke (its Lambda permission removed), and one whose template
 * is disabled. Each region gets its checks and a throwaway device through the real flow (the
 * device client library); afterwards nothing of the throwaway devices is left anywhere.
 */

const SOUND = 'us-east-1';
const NO_HOOK_PERMISSION = 'eu-central-1';
const DISABLED = 'ap-northeast-1';
const REGIONS = [SOUND, NO_HOOK_PERMISSION, DISABLED];

interface Report {
  ok: boolean;
  regions: { region: string; ok: boolean; checks: { name: string; outcome: string; detail?: string; diagnosis?: string }[] }[];
}

let cloud: ProductCloud;
let configPath: string;

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
  configPath = join(cloud.workDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ homeRegion: SOUND, regions: REGIONS, defaultRegion: SOUND }));
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

async function verify(): Promise<{ code: number; report: Report; text: string }> {
  const local = cloud.cloud;
  const global = ['--config', configPath, '--endpoint-dynamodb', local.dynamo?.endpoint ?? '', '--endpoint-iot', local.iotControlEndpoint, '--endpoint-lambda', local.lambdaEndpoint, '--quiet'];
  const args = [
    'verify',
    '--bootstrap-url',
    cloud.bootstrapUrl.toString(),
    '--claim-cert',
    local.paths.claimCert,
    '--claim-key',
    local.paths.claimKey,
    '--ca',
    local.paths.rootCa,
    ...local.regions.flatMap((r) => ['--mqtt-endpoint', `${r.region}=localhost:${r.port}`]),
  ];
  const json = captureIo();
  const code = await runCli([...global, '--json', ...args], { io: json, env: {}, cwd: cloud.workDir });
  const text = captureIo();
  await runCli([...global, ...args], { io: text, env: {}, cwd: cloud.workDir });
  return { code, report: JSON.parse(json.out) as Report, text: text.out };
}

const checkOf = (report: Report, region: string, name: string) => report.regions.find((r) => r.region === region)?.checks.find((c) => c.name === name);

/** Whatever a throwaway device could have left: things, certificates, registry records. */
async function leftovers(): Promise<string[]> {
  const left: string[] = [];
  for (const { region } of cloud.cloud.regions) {
    const { state } = cloud.cloud.region(region);
    for (const thing of state.listThings()) if (thing.thingName.startsWith('verify-')) left.push(`${region} thing ${thing.thingName}`);
    for (const certificate of state.listCertificates()) {
      if (certificate.certificateId !== cloud.cloud.pki.claim.certificateId) left.push(`${region} certificate ${certificate.certificateId} ${certificate.status}`);
    }
  }
  for await (const record of cloud.registry.scan()) if (record.thing_name.startsWith('verify-')) left.push(`record ${record.thing_name}`);
  return left;
}

describe('iot-ops verify', () => {
  it('passes every check in a sound deployment, sends a device through each region, and leaves nothing behind', async () => {
    // Act
    const { code, report, text } = await verify();

    // Assess
    expect(code).toBe(EXIT.ok);
    expect(report.ok).toBe(true);
    for (const region of report.regions) {
      expect(region.checks.map((c) => [c.name, c.outcome])).toEqual([
        ['template present', 'ok'],
        ['template enabled', 'ok'],
        ['template wired to the hook', 'ok'],
        ['hook permission', 'ok'],
        ['provisioning role', 'skipped'],
        ['claim certificate', 'ok'],
        ['data endpoint TLS', 'ok'],
        ['device: enrolled', 'ok'],
        ['device: bootstrap', 'ok'],
        ['device: claim session', 'ok'],
        ['device: CreateCertificateFromCsr', 'ok'],
        ['device: RegisterThing (hook)', 'ok'],
        ['device: confirmation publish', 'ok'],
        ['confirmation recorded', 'ok'],
        ['clean-up', 'ok'],
        ['nothing left behind', 'ok'],
      ]);
    }
    expect(text).toMatch(/^us-east-1: ok$/m);
    expect(text).toMatch(/^provisioning role +skipped +\d+ +IAM is not emulated by the local cloud$/m);
    expect(await leftovers()).toEqual([]);
  });

  it("names the cause in a region whose hook cannot be invoked and in one whose template is disabled, exits 3, and still leaves nothing", async () => {
    // Prepare
    const lambda = new LambdaClient({ region: NO_HOOK_PERMISSION, endpoint: cloud.cloud.lambdaEndpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await lambda.send(new RemovePermissionCommand({ FunctionName: HOOK_FUNCTION_NAME, StatementId: 'InvokeByIotProvisioning' }));
    lambda.destroy();
    await getIotClient(DISABLED, { endpoint: cloud.cloud.iotControlEndpoint }).send(
      new UpdateProvisioningTemplateCommand({ templateName: 'GlobalFleetProvisioning', enabled: false }),
    );

    // Act
    const { code, report, text } = await verify();

    // Assess
    expect(code).toBe(EXIT.partial);
    expect(report.regions.map((r) => [r.region, r.ok])).toEqual([
      [SOUND, true],
      [NO_HOOK_PERMISSION, false],
      [DISABLED, false],
    ]);
    expect(checkOf(report, NO_HOOK_PERMISSION, 'hook permission')).toMatchObject({ outcome: 'failed', diagnosis: expect.stringMatching(/^AWS IoT cannot invoke the hook/) });
    expect(checkOf(report, NO_HOOK_PERMISSION, 'device: RegisterThing (hook)')).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/403 AccessDenied/),
      diagnosis: 'RegisterThing AccessDenied: AWS IoT cannot invoke the hook (see the hook permission check)',
    });
    expect(checkOf(report, DISABLED, 'template enabled')).toMatchObject({ outcome: 'failed', diagnosis: expect.stringMatching(/^the template is disabled/) });
    expect(checkOf(report, DISABLED, 'device: RegisterThing (hook)')).toMatchObject({ outcome: 'failed', diagnosis: 'the template is disabled: see the template enabled check' });
    for (const region of [NO_HOOK_PERMISSION, DISABLED]) {
      expect(checkOf(report, region, 'clean-up')).toMatchObject({ outcome: 'ok', detail: '1 certificate(s), no thing, the registry record' });
      expect(checkOf(report, region, 'nothing left behind')).toMatchObject({ outcome: 'ok' });
    }
    expect(text).toMatch(/^eu-central-1: FAILED$/m);
    expect(text).toMatch(/likely cause of "device: RegisterThing \(hook\)": RegisterThing AccessDenied: AWS IoT cannot invoke the hook/);
    expect(await leftovers()).toEqual([]);
  });
});
