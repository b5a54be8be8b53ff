import { DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { type ProductCloud, startProductCloud } from '../device/support/cloud.js';
import { enrollDevice, runDevice, type TestDevice } from '../device/support/device.js';
import { opsAgainst, writeOpsConfig } from './helpers.js';

/**
 * What an operator asks with `iot-ops move`, `policy` and `rotate`, carried out end to end: the
 * product in the local cloud (bootstrap, hook, confirmation) and the device client's next boot,
 * which reads the request from its shadow. Each policy's effect on the thing's shadow in the new
 * region, and the old certificate revoked only once the new one works.
 */

const REGIONS = ['us-east-1', 'eu-central-1'];

let cloud: ProductCloud;
let configPath: string;
const ops = opsAgainst(() => ({ product: cloud, configPath }));

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
  configPath = writeOpsConfig(cloud.workDir, REGIONS);
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

const data = (region: string) => new IoTDataPlaneClient({ region, endpoint: cloud.cloud.iotControlEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const other = (region: string): string => REGIONS.find((r) => r !== region) ?? '';

async function reported(region: string, thingName: string): Promise<Record<string, unknown> | undefined> {
  const out = await data(region).send(new GetThingShadowCommand({ thingName }));
  const doc = JSON.parse(Buffer.from(out.payload ?? new Uint8Array()).toString('utf8')) as { state?: { reported?: Record<string, unknown> } };
  return doc.state?.reported;
}

/** A provisioned device whose shadow reports a temperature. */
async function provisionedDevice(name: string): Promise<{ device: TestDevice; region: string; certificateId: string }> {
  const device = await enrollDevice(cloud, name, '203.0.113.30');
  const { result } = await runDevice(cloud, device);
  await data(result.region).send(new UpdateThingShadowCommand({ thingName: name, payload: Buffer.from(JSON.stringify({ state: { reported: { temp: 21 } } })) }));
  return { device, region: result.region, certificateId: result.certificateId };
}

describe('ops move, then the device boots', () => {
  it('migrate (the default): the device moves, its shadow state goes with it, the old certificate is revoked', async () => {
    // Prepare
    const { device, region, certificateId } = await provisionedDevice('opsmove-migrate');
    const target = other(region);

    // Act
    const asked = await ops(['move', device.thingName, '--to', target, '--reason', 'test migrate']);
    const { result } = await runDevice(cloud, device);

    // Assess
    expect(asked.code).toBe(EXIT.ok);
    expect(result).toMatchObject({ outcome: 'moved', region: target });
    expect(await cloud.registry.get(device.thingName)).toMatchObject({ prov_status: 'provisioned', aws_region: target, certificate_id: result.certificateId });
    expect((await cloud.registry.get(device.thingName))?.history?.at(-1)).toMatchObject({ kind: 'move', from: region, to: target, why: 'test migrate' });
    expect(await reported(target, device.thingName)).toMatchObject({ temp: 21 });
    const old = await getIotClient(region, { endpoint: cloud.cloud.iotControlEndpoint }).send(new DescribeCertificateCommand({ certificateId }));
    expect(old.certificateDescription?.status).toBe('REVOKED');
  }, 60_000);

  it('reset (set by ops policy): the device moves to a fresh shadow', async () => {
    // Prepare
    const { device, region } = await provisionedDevice('opsmove-reset');
    const target = other(region);

    // Act
    const policy = await ops(['policy', device.thingName, 'reset']);
    const asked = await ops(['move', device.thingName, '--to', target]);
    const { result } = await runDevice(cloud, device);

    // Assess
    expect(policy.code).toBe(EXIT.ok);
    expect(asked.code).toBe(EXIT.ok);
    expect(result).toMatchObject({ outcome: 'moved', region: target });
    expect((await reported(target, device.thingName))?.['temp']).toBeUndefined();
  }, 60_000);

  it('never (set by ops policy): the move is refused and the next boot only verifies', async () => {
    // Prepare
    const { device, region } = await provisionedDevice('opsmove-never');

    // Act
    await ops(['policy', device.thingName, 'never']);
    const asked = await ops(['move', device.thingName, '--to', other(region)]);
    const { result } = await runDevice(cloud, device);

    // Assess
    expect(asked.code).toBe(EXIT.failed);
    expect(result).toMatchObject({ outcome: 'verified', region });
  }, 60_000);
});

describe('ops rotate, then the device boots', () => {
  it('gets a new certificate in the same region, and the old one is revoked', async () => {
    // Prepare
    const { device, region, certificateId } = await provisionedDevice('opsrotate-1');

    // Act
    const asked = await ops(['rotate', device.thingName]);
    const { result } = await runDevice(cloud, device);

    // Assess
    expect(asked.code).toBe(EXIT.ok);
    expect(result).toMatchObject({ outcome: 'rotated', region });
    expect(result.certificateId).not.toBe(certificateId);
    expect(await cloud.registry.get(device.thingName)).toMatchObject({ prov_status: 'provisioned', aws_region: region, certificate_id: result.certificateId });
    const old = await getIotClient(region, { endpoint: cloud.cloud.iotControlEndpoint }).send(new DescribeCertificateCommand({ certificateId }));
    expect(old.certificateDescription?.status).toBe('REVOKED');
  }, 60_000);
});
