import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTClient, UpdateThingCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { askToMove, askToRotate } from '@global-iot/core/lifecycle/requests.js';
import { desiredLifecycleOf } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { type DeviceRecord, DeviceRegistry, type ReprovisionPolicy } from '@global-iot/core/registry/index.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { DEFAULT_ROTATION_TEMPLATE_NAME, DEFAULT_TEMPLATE_NAME, startLocalCloud } from '@global-iot/local/cloud.js';
import { createLogger } from '@global-iot/local/log.js';
import { productKeyPaths, productWiring } from '@global-iot/local/product.js';
import { createConfirmHandler } from '@global-iot/pre-provisioning-hook/app.js';
import { lifecycleClients } from '@global-iot/pre-provisioning-hook/lifecycle-clients.js';
import { asTestCloud, type ClientIdentity, closed, connectMqtt, nextMessage, type TestCloud, within } from './support/cloud.js';
import { createKeys, register } from './support/provisioning.js';

/**
 * The lifecycle after the first boot on the local cloud, with the product's real functions (the
 * bootstrap, the hook with its rotation rules, the confirmation completing moves and rotations),
 * the registry in dynalite, and devices played by raw mqtt.js clients: rotation through the
 * rotation template, moves with `migrate` and `reset`, hostile attempts, and a completion whose
 * clean-up fails after the switch.
 */

const [R1, R2] = ['us-east-1', 'eu-central-1'] as const;
const REGIONS = [R1, R2];

const dir = mkdtempSync(join(tmpdir(), 'local-cloud-lifecycle-'));
let test: TestCloud;
let registry: DeviceRegistry;
let dynamo: DynamoDBClient;
let fleetKey: KeyObject;
const iot = new Map<string, IoTClient>();
const data = new Map<string, IoTDataPlaneClient>();

beforeAll(async () => {
  const log = createLogger('silent');
  const cloud = await startLocalCloud({
    regions: REGIONS,
    pkiDir: join(dir, 'pki'),
    deviceKeyAlgorithm: 'ec-p256',
    demo: true,
    log,
    wire: productWiring({ keysDir: join(dir, 'keys'), log, geolocation: false }),
  });
  test = asTestCloud(cloud);
  dynamo = new DynamoDBClient({ region: R1, endpoint: cloud.dynamo?.endpoint ?? '', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  registry = new DeviceRegistry({ client: dynamo, tableName: 'iot-device-registry' });
  fleetKey = createPrivateKey(readFileSync(productKeyPaths(join(dir, 'keys')).fleetSigningKeyPath, 'utf8'));
  for (const region of REGIONS) {
    const options = { region, endpoint: cloud.iotControlEndpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } };
    iot.set(region, new IoTClient(options));
    data.set(region, new IoTDataPlaneClient(options));
  }
});

afterAll(async () => {
  for (const client of [...iot.values(), ...data.values()]) client.destroy();
  dynamo?.destroy();
  await test?.close();
  rmSync(dir, { recursive: true, force: true });
});

const iotOf = (region: string): IoTClient => iot.get(region) ?? new IoTClient({ region });
const dataOf = (region: string): IoTDataPlaneClient => data.get(region) ?? new IoTDataPlaneClient({ region });

// Devices, as raw MQTT clients

interface Device extends ClientIdentity {
  thingName: string;
  region: string;
  certificateId: string;
}

let requestTs = Date.now();
/** A signed bootstrap request; each newer than the last, as a device's clock makes them. */
async function bootstrap(thingName: string): Promise<{ status: number; body: Record<string, unknown> }> {
  requestTs = Math.max(requestTs + 1, Date.now());
  const body = signedBootstrapRequest(fleetKey, thingName, requestTs);
  return within(
    new Promise((resolve, reject) => {
      const req = httpsRequest(`${test.cloud.bootstrapUrl ?? ''}/bootstrap`, { method: 'POST', ca: test.rootCa, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    }),
    10_000,
    'the bootstrap answer',
  );
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  return within(
    (async () => {
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(),
    ms,
    what,
  );
}

const recordWhere = (thingName: string, test: (r: DeviceRecord) => boolean) => async () => {
  const record = await registry.get(thingName);
  return record && test(record) ? record : undefined;
};

/** Bootstrap, claim provisioning with the product template in the answered region; the certificate is not confirmed yet. */
async function claimProvision(thingName: string): Promise<Device> {
  const answer = await bootstrap(thingName);
  expect(answer.status).toBe(200);
  const region = String(answer.body['region']);
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, `prov-${thingName}`, { region });
  const created = await createKeys(claim);
  const registered = await register(claim, String(answer.body['templateName']), {
    certificateOwnershipToken: created.body['certificateOwnershipToken'],
    parameters: { ThingName: thingName, Ticket: String(answer.body['ticket']) },
  });
  claim.end(true);
  expect(registered.outcome).toBe('accepted');
  return { thingName, region, certificateId: String(created.body['certificateId']), cert: String(created.body['certificatePem']), key: String(created.body['privateKey']) };
}

/** The device's first connection with a certificate: its one Basic Ingest publish. */
async function confirmWith(device: Device): Promise<MqttClient> {
  const client = await connectMqtt(test, device, device.thingName, { region: device.region });
  await client.publishAsync(confirmationTopic(DEFAULT_CONFIRMATION_RULE_NAME), '{}', { qos: 1 });
  return client;
}

let counter = 0;
/** An enrolled device, provisioned and confirmed in the region the bootstrap chose. */
async function provisionedDevice(policy?: ReprovisionPolicy): Promise<Device> {
  const thingName = `life-${++counter}`;
  await registry.enroll({ thingName });
  if (policy) await registry.setPolicy(thingName, policy);
  const device = await claimProvision(thingName);
  (await confirmWith(device)).end(true);
  await waitFor('the first confirmation', recordWhere(thingName, (r) => r.prov_status === 'provisioned'));
  return device;
}

/** A rotation over the device's current connection: CreateKeysAndCertificate, then RegisterThing with the rotation template. */
async function rotateOver(client: MqttClient, device: Device, thingName = device.thingName) {
  const created = await createKeys(client);
  expect(created.outcome).toBe('accepted');
  const registered = await register(client, DEFAULT_ROTATION_TEMPLATE_NAME, {
    certificateOwnershipToken: created.body['certificateOwnershipToken'],
    parameters: { ThingName: thingName },
  });
  const next: Device = { ...device, certificateId: String(created.body['certificateId']), cert: String(created.body['certificatePem']), key: String(created.body['privateKey']) };
  return { registered, next };
}

/** The classic shadow's state as the region stores it; undefined when there is none. */
function shadowOf(region: string, thingName: string): { desired?: Record<string, unknown>; reported?: Record<string, unknown> } | undefined {
  const stored = test.cloud.region(region).state.getShadow(thingName, undefined);
  return stored === undefined ? undefined : (stored.state ?? {});
}

function certificateOf(region: string, certificateId: string) {
  return test.cloud.region(region).state.getCertificate(certificateId);
}

function requestDeps() {
  return { registry, config: { regions: REGIONS, draining: [], residency: {} }, drainingRegions: async () => [], shadows: dataOf, now: Date.now };
}

/** Connecting with `identity` is refused (CONNACK refused or the connection closed). */
async function refusedToConnect(identity: ClientIdentity, clientId: string, region: string): Promise<boolean> {
  try {
    const client = await connectMqtt(test, identity, clientId, { region });
    await closed(client, 3_000).catch(() => undefined);
    const stillUp = client.connected;
    client.end(true);
    return !stillUp;
  } catch {
    return true;
  }
}

describe('certificate rotation through the rotation template', () => {
  it('gives the device a new certificate over its current one; after its confirmation the old one is revoked, detached and cannot connect', async () => {
    // Prepare
    const device = await provisionedDevice();
    const asked = await askToRotate(requestDeps(), { thingName: device.thingName });
    const current = await connectMqtt(test, device, device.thingName, { region: device.region });

    // Act
    const { registered, next } = await rotateOver(current, device);
    current.end(true);
    (await confirmWith(next)).end(true);
    const record = await waitFor(
      'the rotation to complete',
      recordWhere(device.thingName, (r) => r.certificate_id === next.certificateId && (r.cleanup_pending?.length ?? 0) === 0),
    );

    // Assess
    expect(asked).toMatchObject({ outcome: 'requested', region: device.region, shadow: 'written' });
    expect(registered).toEqual({ outcome: 'accepted', body: { thingName: device.thingName, deviceConfiguration: {} } });
    expect(record).toMatchObject({ prov_status: 'provisioned', aws_region: device.region, rotated_at: expect.any(String) });
    expect(record.rotation_id).toBeUndefined();
    expect(record.history?.at(-1)).toMatchObject({ kind: 'rotation', from: device.region, to: device.region, fromCertificate: device.certificateId, toCertificate: next.certificateId });
    const state = test.cloud.region(device.region).state;
    expect(certificateOf(device.region, device.certificateId)?.status).toBe('REVOKED');
    expect(state.policyNamesOf(device.certificateId)).toEqual([]);
    expect(state.getThing(device.thingName)?.principals).toEqual([next.certificateId]);
    expect(certificateOf(device.region, next.certificateId)?.status).toBe('ACTIVE');
    const shadow = shadowOf(device.region, device.thingName);
    expect(desiredLifecycleOf(shadow?.desired)).toEqual({ current: { certificateId: next.certificateId, region: device.region } });
    // A stolen old certificate is worth nothing now; the new one works.
    expect(await refusedToConnect(device, device.thingName, device.region)).toBe(true);
    (await connectMqtt(test, next, device.thingName, { region: device.region })).end(true);
  });

  it('refuses the claim certificate on the rotation template: its policy does not list it', async () => {
    // Prepare
    const device = await provisionedDevice();
    const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, `prov-${device.thingName}`, { region: device.region });
    const gone = closed(claim);

    // Act
    claim.publish(`$aws/provisioning-templates/${DEFAULT_ROTATION_TEMPLATE_NAME}/provision/json`, JSON.stringify({ parameters: { ThingName: device.thingName } }), { qos: 1 });

    // Assess: AWS IoT closes a connection that publishes where its policy does not allow.
    await expect(gone).resolves.toBeUndefined();
    expect(await registry.get(device.thingName)).toMatchObject({ prov_status: 'provisioned', certificate_id: device.certificateId });
    claim.end(true);
  });

  it("refuses a device asking to rotate another thing's certificate, and changes nothing", async () => {
    // Prepare
    const attacker = await provisionedDevice();
    const victim = await provisionedDevice();
    const before = await registry.get(victim.thingName);
    const client = await connectMqtt(test, attacker, attacker.thingName, { region: attacker.region });

    // Act
    const { registered, next } = await rotateOver(client, attacker, victim.thingName);
    client.end(true);

    // Assess
    expect(registered.outcome).toBe('rejected');
    expect(await registry.get(victim.thingName)).toEqual(before);
    expect(await registry.get(attacker.thingName)).toMatchObject({ certificate_id: attacker.certificateId });
    expect(certificateOf(attacker.region, next.certificateId)?.status).not.toBe('ACTIVE');
    expect(test.cloud.region(victim.region).state.getThing(victim.thingName)?.principals).toEqual([victim.certificateId]);
  });
});

/** Gives the device's thing attributes and its shadow some state, as an application would. */
async function deviceData(device: Device): Promise<void> {
  await iotOf(device.region).send(new UpdateThingCommand({ thingName: device.thingName, attributePayload: { attributes: { colour: 'blue' }, merge: true } }));
  const update = { state: { desired: { led: 'on' }, reported: { led: 'off', temperature: 21 } } };
  await dataOf(device.region).send(new UpdateThingShadowCommand({ thingName: device.thingName, payload: Buffer.from(JSON.stringify(update)) }));
}

/** The move, as the device makes it: reads the request from its shadow, bootstraps again, provisions in the new region. */
async function moveDevice(device: Device, to: string): Promise<Device> {
  const asked = await askToMove(requestDeps(), { thingName: device.thingName, to, reason: 'test move' });
  expect(asked).toMatchObject({ outcome: 'requested', region: device.region, shadow: 'written' });
  const client = await connectMqtt(test, device, device.thingName, { region: device.region });
  await client.subscribeAsync(`$aws/things/${device.thingName}/shadow/get/accepted`, { qos: 1 });
  const got = nextMessage(client, `$aws/things/${device.thingName}/shadow/get/accepted`);
  await client.publishAsync(`$aws/things/${device.thingName}/shadow/get`, '', { qos: 1 });
  const document = JSON.parse((await got).toString('utf8')) as { state: { desired?: unknown } };
  client.end(true);
  expect(desiredLifecycleOf(document.state.desired).move).toMatchObject({ to });
  const moved = await claimProvision(device.thingName);
  expect(moved.region).toBe(to);
  return moved;
}

const otherRegion = (region: string): string => (region === R1 ? R2 : R1);

describe('moves', () => {
  it('migrate: the thing and shadow come along; the old certificate is revoked and the old thing and shadow deleted', async () => {
    // Prepare
    const device = await provisionedDevice('migrate');
    await deviceData(device);
    const to = otherRegion(device.region);
    const moved = await moveDevice(device, to);
    const midway = await registry.get(device.thingName);

    // Act
    (await confirmWith(moved)).end(true);
    const record = await waitFor(
      'the move to complete',
      recordWhere(device.thingName, (r) => r.prov_status === 'provisioned' && r.aws_region === to && (r.cleanup_pending?.length ?? 0) === 0),
    );

    // Assess: until the confirmation nothing changed where the device runs.
    expect(midway).toMatchObject({ prov_status: 'moving', aws_region: device.region, certificate_id: device.certificateId, move_region: to, move_certificate_id: moved.certificateId });
    expect(record).toMatchObject({ certificate_id: moved.certificateId });
    expect(record.history?.at(-1)).toMatchObject({ kind: 'move', from: device.region, to, why: 'test move', fromCertificate: device.certificateId, toCertificate: moved.certificateId });
    const target = test.cloud.region(to).state;
    expect(target.getThing(device.thingName)?.attributes).toEqual({ region: to, colour: 'blue' });
    const shadow = shadowOf(to, device.thingName);
    expect(shadow?.reported).toEqual({ led: 'off', temperature: 21 });
    expect(shadow?.desired).toMatchObject({ led: 'on', iotProvisioning: { current: { certificateId: moved.certificateId, region: to } } });
    const source = test.cloud.region(device.region).state;
    expect(source.getThing(device.thingName)).toBeUndefined();
    await expect(dataOf(device.region).send(new GetThingShadowCommand({ thingName: device.thingName }))).rejects.toThrow(expect.objectContaining({ name: 'ResourceNotFoundException' }));
    expect(certificateOf(device.region, device.certificateId)?.status).toBe('REVOKED');
    expect(source.policyNamesOf(device.certificateId)).toEqual([]);
    expect(await refusedToConnect(device, device.thingName, device.region)).toBe(true);
  });

  it('reset: a fresh thing and shadow in the new region, nothing carried over', async () => {
    // Prepare
    const device = await provisionedDevice('reset');
    await deviceData(device);
    const to = otherRegion(device.region);
    const moved = await moveDevice(device, to);

    // Act
    (await confirmWith(moved)).end(true);
    await waitFor('the move to complete', recordWhere(device.thingName, (r) => r.aws_region === to && (r.cleanup_pending?.length ?? 0) === 0));

    // Assess
    expect(test.cloud.region(to).state.getThing(device.thingName)?.attributes).toEqual({ region: to });
    const shadow = shadowOf(to, device.thingName);
    expect(shadow?.reported).toBeUndefined();
    expect(shadow?.desired).toEqual({ iotProvisioning: { current: { certificateId: moved.certificateId, region: to } } });
    expect(test.cloud.region(device.region).state.getThing(device.thingName)).toBeUndefined();
    await expect(dataOf(device.region).send(new GetThingShadowCommand({ thingName: device.thingName }))).rejects.toThrow(expect.objectContaining({ name: 'ResourceNotFoundException' }));
    expect(certificateOf(device.region, device.certificateId)?.status).toBe('REVOKED');
  });

  it('a failure after the switch leaves cleanup_pending; the confirmation repeated finishes it', async () => {
    // Prepare: the device has its certificate in the new region; the confirmation is run here,
    // with the event the rule would send, first with the old region's control plane unreachable.
    const device = await provisionedDevice('reset');
    const to = otherRegion(device.region);
    const moved = await moveDevice(device, to);
    const working = lifecycleClients({ iotEndpoint: test.cloud.iotControlEndpoint, iotDataEndpoint: test.cloud.iotControlEndpoint });
    const unreachable = new IoTClient({ region: device.region, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
    const broken = { ...working, iot: (region: string) => (region === device.region ? unreachable : working.iot(region)) };
    const event = { clientId: device.thingName, principal: moved.certificateId, receivedAt: Date.now() };
    const confirm = (clients: typeof working) => createConfirmHandler({ registry, region: to, record: () => undefined, clients });

    // Act
    const first = await confirm(broken)(event).then(
      () => 'resolved',
      (error: unknown) => (error instanceof Error ? error.name : 'thrown'),
    );
    const afterFailure = await registry.get(device.thingName);
    const thingAfterFailure = test.cloud.region(device.region).state.getThing(device.thingName);
    const repeated = await confirm(working)(event);
    const afterRepeat = await registry.get(device.thingName);
    unreachable.destroy();

    // Assess
    expect(first).toBe('CleanupPending');
    expect(afterFailure).toMatchObject({ prov_status: 'provisioned', aws_region: to, certificate_id: moved.certificateId, cleanup_pending: [`retire/${device.region}`] });
    expect(thingAfterFailure).toBeDefined();
    expect(repeated).toEqual({ confirmed: true });
    expect(afterRepeat?.cleanup_pending).toBeUndefined();
    expect(test.cloud.region(device.region).state.getThing(device.thingName)).toBeUndefined();
    expect(certificateOf(device.region, device.certificateId)?.status).toBe('REVOKED');
  });

  it('a failure before the switch (the old region unreachable for the copy) changes nothing; the retry completes the move', async () => {
    // Prepare
    const device = await provisionedDevice('migrate');
    await deviceData(device);
    const to = otherRegion(device.region);
    const moved = await moveDevice(device, to);
    const before = await registry.get(device.thingName);
    const working = lifecycleClients({ iotEndpoint: test.cloud.iotControlEndpoint, iotDataEndpoint: test.cloud.iotControlEndpoint });
    const unreachable = new IoTClient({ region: device.region, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
    const broken = { ...working, iot: (region: string) => (region === device.region ? unreachable : working.iot(region)) };
    const event = { clientId: device.thingName, principal: moved.certificateId, receivedAt: Date.now() };
    const confirm = (clients: typeof working) => createConfirmHandler({ registry, region: to, record: () => undefined, clients });

    // Act
    const first = await confirm(broken)(event).then(
      () => 'resolved',
      () => 'thrown',
    );
    const afterFailure = await registry.get(device.thingName);
    const oldCertificateAfterFailure = certificateOf(device.region, device.certificateId)?.status;
    const retried = await confirm(working)(event);
    unreachable.destroy();

    // Assess
    expect(first).toBe('thrown');
    expect(afterFailure).toEqual(before);
    expect(oldCertificateAfterFailure).toBe('ACTIVE');
    expect(retried).toEqual({ confirmed: true });
    expect(await registry.get(device.thingName)).toMatchObject({ prov_status: 'provisioned', aws_region: to, certificate_id: moved.certificateId });
    expect(test.cloud.region(to).state.getThing(device.thingName)?.attributes).toEqual({ region: to, colour: 'blue' });
  });

  it('does not complete a move confirmed in a region the device was not assigned', async () => {
    // Prepare
    const device = await provisionedDevice('reset');
    const to = otherRegion(device.region);
    const moved = await moveDevice(device, to);
    const before = await registry.get(device.thingName);
    const clients = lifecycleClients({ iotEndpoint: test.cloud.iotControlEndpoint, iotDataEndpoint: test.cloud.iotControlEndpoint });
    const inOldRegion = createConfirmHandler({ registry, region: device.region, record: () => undefined, clients });

    // Act
    const result = await inOldRegion({ clientId: device.thingName, principal: moved.certificateId, receivedAt: Date.now() });

    // Assess
    expect(result).toEqual({ confirmed: false });
    expect(await registry.get(device.thingName)).toEqual(before);
    expect(certificateOf(device.region, device.certificateId)?.status).toBe('ACTIVE');
  });
});

it('serves the rotation template beside the product template in every region', () => {
  for (const region of REGIONS) {
    const state = test.cloud.region(region).state;
    expect(state.getTemplate(DEFAULT_TEMPLATE_NAME)?.enabled).toBe(true);
    expect(state.getTemplate(DEFAULT_ROTATION_TEMPLATE_NAME)).toMatchObject({ enabled: true, preProvisioningHook: { targetArn: test.cloud.functionArn(region, 'pre-provisioning-hook') } });
  }
});
