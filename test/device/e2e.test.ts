import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import type { ProvisionEvent } from '@global-iot/device/provision.js';
import { FileStore } from '@global-iot/device/store.js';
import { type ProductCloud, startProductCloud } from './support/cloud.js';
import { enrollDevice, eventually, runDevice, snapshotDir } from './support/device.js';

/**
 * The whole device flow against the local cloud running the product: HTTPS bootstrap, MQTT over
 * mutual TLS with aws-crt, CreateCertificateFromCsr or CreateKeysAndCertificate, RegisterThing
 * through the real pre-provisioning hook, storage, reconnection, confirmation in the registry.
 */

// Frankfurt, Tokyo, São Paulo: each nearest to a different region of the cloud.
const FRANKFURT = '194.25.0.10';
const TOKYO = '202.12.27.40';
const SAO_PAULO = '200.160.0.20';
const REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1'];

let cloud: ProductCloud;

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
});

afterAll(async () => {
  await cloud?.close();
});

async function provisionedRecord(thingName: string) {
  return eventually(async () => {
    const record = await cloud.registry.get(thingName);
    return record?.prov_status === 'provisioned' ? record : undefined;
  }, `${thingName} to be confirmed`);
}

describe('device flow, end to end', () => {
  it.each([
    ['csr', 'mqtt311', FRANKFURT, 'eu-central-1'],
    ['keys', 'mqtt311', TOKYO, 'ap-northeast-1'],
    ['csr', 'mqtt5', SAO_PAULO, 'sa-east-1'],
  ] as const)('provisions with %s over %s into the nearest region', async (certificateMode, protocol, sourceIp, region) => {
    // Prepare
    const device = await enrollDevice(cloud, `e2e-${certificateMode}-${protocol}`, sourceIp, certificateMode === 'csr' ? 'ed25519' : 'ec');

    // Act: without measuring, the model's region (measuring: measure.test.ts).
    const { result, events } = await runDevice(cloud, device, { certificateMode, protocol, measure: { enabled: false } });

    // Assess: the device holds a certificate for its own key, registered in its region.
    expect(result).toMatchObject({ outcome: 'provisioned', region, regionsSkipped: [] });
    const stored = await new FileStore(join(device.dir, 'out')).load(device.thingName);
    expect(stored?.state.step).toBe('confirmed');
    const certificatePem = stored?.credentials?.certificatePem ?? '';
    expect(certificateIdOf(certificatePem)).toBe(result.certificateId);
    const thing = cloud.cloud.region(region).state.getThing(device.thingName);
    expect(thing).toBeDefined();
    expect(cloud.cloud.region(region).state.thingsOfCertificate(result.certificateId).has(device.thingName)).toBe(true);
    if (certificateMode === 'csr') expect(new X509Certificate(certificatePem).subject).toContain(`CN=${device.thingName}`);
    const record = await provisionedRecord(device.thingName);
    expect(record).toMatchObject({ aws_region: region, certificate_id: result.certificateId });
    expect(events.filter((e) => e.status === 'ok').map((e) => e.step)).toEqual([
      'load',
      'bootstrap',
      'connect',
      'create-certificate',
      'register-thing',
      'store',
      'confirm',
    ]);
    // Nothing secret in the progress events.
    const text = JSON.stringify(events);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toMatch(/t1\.[A-Za-z0-9_-]{20,}\./);
  });

  it('a second run only verifies: no file, registry record or cloud object changes', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'e2e-second-run', FRANKFURT);
    const first = await runDevice(cloud, device);
    const recordBefore = await provisionedRecord(device.thingName);
    const filesBefore = snapshotDir(join(device.dir, 'out'));
    const region = cloud.cloud.region(first.result.region).state;
    const thingBefore = structuredClone(region.getThing(device.thingName));
    const certificatesBefore = region.thingsOfCertificate(first.result.certificateId).size;

    // Act
    const second = await runDevice(cloud, device);

    // Assess
    expect(second.result).toMatchObject({ outcome: 'verified', certificateId: first.result.certificateId, region: first.result.region });
    expect(second.events.filter((e) => e.status === 'ok').map((e) => e.step)).toEqual(['load', 'verify']);
    expect(snapshotDir(join(device.dir, 'out'))).toEqual(filesBefore);
    expect(await cloud.registry.get(device.thingName)).toEqual(recordBefore);
    expect(region.getThing(device.thingName)).toEqual(thingBefore);
    expect(region.thingsOfCertificate(first.result.certificateId).size).toBe(certificatesBefore);
  });

  it('reports the bootstrap\'s refusal as received, naming the step', async () => {
    // Prepare: a thing name the registry does not know.
    const device = { ...(await enrollDevice(cloud, 'e2e-enrolled', FRANKFURT)), thingName: 'e2e-never-enrolled' };

    // Act
    const error = await runDevice(cloud, device).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'StepFailed', step: 'bootstrap', cause: { name: 'BootstrapRejected', status: 401, code: 'UNAUTHORIZED' } });
  });

  it('reports AWS IoT\'s rejection of RegisterThing as received, naming the step', async () => {
    // Prepare: an operator blocks the device after it got its ticket, so the hook denies it.
    const device = await enrollDevice(cloud, 'e2e-blocked', FRANKFURT);
    const afterStep = async (step: string) => {
      if (step === 'create-certificate') await cloud.registry.block(device.thingName, 'test');
    };

    // Act: one registration try only.
    const error = await runDevice(cloud, device, { afterStep, registerAttempts: 1 }).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'StepFailed', step: 'register-thing', cause: { name: 'AwsRejected', operation: 'RegisterThing', statusCode: 403 } });
    const cause = (error as { cause: { errorCode: string; errorMessage: string } }).cause;
    expect((error as Error).message).toContain(`403 ${cause.errorCode}: ${cause.errorMessage}`);
    const stored = await new FileStore(join(device.dir, 'out')).load(device.thingName);
    expect(stored?.state.step).toBe('bootstrapped');
  });

  it('tries the registration again after a denial, and learns from the bootstrap that the device is blocked', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'e2e-blocked-retry', FRANKFURT);
    const afterStep = async (step: string) => {
      if (step === 'create-certificate') await cloud.registry.block(device.thingName, 'test');
    };
    const events: ProvisionEvent[] = [];

    // Act
    const error = await runDevice(cloud, device, { afterStep, events }).catch((e: unknown) => e);

    // Assess: denied, retried with a fresh bootstrap call, which refuses the blocked device.
    expect(error).toMatchObject({ name: 'StepFailed', step: 'bootstrap', cause: { name: 'BootstrapRejected', status: 403, code: 'DEVICE_BLOCKED' } });
    const outcomes = events.filter((e) => e.status !== 'start' && e.status !== 'ok').map((e) => [e.step, e.status, e.error?.status]);
    expect(outcomes).toEqual([
      ['register-thing', 'failed', 403],
      ['register-thing', 'retry', 403],
      ['bootstrap', 'failed', 403],
    ]);
  });
});

describe('region fallback', () => {
  it('falls back to the next region of the answer when the assigned one does not answer', async () => {
    // Prepare: stop Frankfurt's endpoint; a device in Germany is assigned there first.
    const device = await enrollDevice(cloud, 'e2e-fallback', FRANKFURT);
    await cloud.cloud.region('eu-central-1').dataPlane.close();

    // Act
    const { result, events } = await runDevice(cloud, device);

    // Assess
    expect(result.regionsSkipped).toEqual(['eu-central-1']);
    expect(result.region).not.toBe('eu-central-1');
    const failedConnect = events.find((e) => e.step === 'connect' && e.status === 'failed');
    expect(failedConnect).toMatchObject({ region: 'eu-central-1', error: { name: 'MqttConnectFailed' } });
    // The first answer, the second with the figures (eu-central-1 unmeasured: it stands), the fallback.
    const bootstraps = events.filter((e) => e.step === 'bootstrap' && e.status === 'ok');
    expect(bootstraps.map((e) => e.region)).toEqual(['eu-central-1', 'eu-central-1', result.region]);
    const record = await provisionedRecord(device.thingName);
    expect(record.aws_region).toBe(result.region);
  });

  it('gives up, naming every region it tried, when no region answers', async () => {
    // Prepare: every region down (Frankfurt already is, from the test above).
    const device = await enrollDevice(cloud, 'e2e-no-region', FRANKFURT);
    for (const region of REGIONS) await cloud.cloud.region(region).dataPlane.close();

    // Act
    const error = await runDevice(cloud, device).catch((e: unknown) => e);

    // Assess: the first answer's region and both of its fallbacks were tried.
    expect(error).toMatchObject({ name: 'StepFailed', step: 'connect', cause: { name: 'NoRegionAnswered' } });
    expect((error as Error).message).toMatch(/no region answered: tried eu-central-1, [a-z0-9-]+, [a-z0-9-]+$/);
  });
});
