import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProductCloud, startProductCloud } from './support/cloud.js';
import { MqttConnectFailed } from '@global-iot/device/errors.js';
import { listenForRequests } from '@global-iot/device/lifecycle/listen.js';
import type { MqttTarget, MqttTransport } from '@global-iot/device/mqtt.js';
import { provisionDevice } from '@global-iot/device/provision.js';
import { deviceSetup, enrollDevice, eventually, runDevice } from './support/device.js';
import { connects, hasNextFiles, operator, stored } from './support/lifecycle.js';

/**
 * The device client after its first boot, against the local cloud running the product: rotation
 * and moves as the device runs them (README, "After the first boot"), through real MQTT, HTTPS
 * and the registry.
 */

const REGIONS = ['us-east-1', 'eu-central-1'] as const;
const NO_MEASURE = { enabled: false } as const;

let cloud: ProductCloud;

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
});

afterAll(async () => {
  await cloud?.close();
});

async function provisioned(name: string) {
  const device = await enrollDevice(cloud, name, '127.0.0.1');
  const { result } = await runDevice(cloud, device, { measure: NO_MEASURE });
  const before = await stored(device);
  if (before?.credentials === undefined) throw new Error('not provisioned');
  await eventually(async () => ((await cloud.registry.get(name))?.prov_status === 'provisioned' ? true : undefined), `${name} confirmed`);
  return { device, region: result.region, credentials: before.credentials, certificateId: result.certificateId };
}

const otherRegion = (region: string): string => (region === REGIONS[0] ? REGIONS[1] : REGIONS[0]);

describe('rotation', () => {
  it('iot-provision rotate: a new certificate in the same region, switched once the cloud confirms, the old one revoked', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region, credentials, certificateId } = await provisioned('rotate-now');

    // Act
    const { result, events } = await runDevice(cloud, device, { measure: NO_MEASURE, lifecycle: { rotateNow: true } });

    // Assess
    expect(result).toMatchObject({ outcome: 'rotated', region });
    expect(result.certificateId).not.toBe(certificateId);
    expect(events.filter((e) => e.status === 'ok').map((e) => e.step)).toEqual([
      'load',
      'verify',
      'create-certificate',
      'register-thing',
      'store-pending',
      'confirm',
      'switch',
      'acknowledge',
    ]);
    const after = await stored(device);
    expect(after?.state).toMatchObject({ step: 'confirmed', certificateId: result.certificateId, region });
    expect(after?.state.step === 'confirmed' ? after.state.pending : 'not confirmed').toBeUndefined();
    expect(hasNextFiles(device)).toBe(false);
    const record = await cloud.registry.get(device.thingName);
    expect(record).toMatchObject({ prov_status: 'provisioned', certificate_id: result.certificateId, aws_region: region });
    // The stolen old certificate: revoked once the switch was final.
    await eventually(async () => ((await connects(cloud, device.thingName, region, credentials)) ? undefined : true), 'the old certificate to be refused');
    const again = await runDevice(cloud, device, { measure: NO_MEASURE });
    expect(again.result).toMatchObject({ outcome: 'verified', certificateId: result.certificateId });
  });

  it('rotates when the operator asks in the shadow, and when the certificate is older than --rotate-after-days', { timeout: 60_000 }, async () => {
    // Prepare
    const asked = await provisioned('rotate-asked');
    const aged = await provisioned('rotate-aged');
    await operator(cloud).rotate(asked.device.thingName);

    // Act
    const byShadow = await runDevice(cloud, asked.device, { measure: NO_MEASURE });
    const notYet = await runDevice(cloud, aged.device, { measure: NO_MEASURE, lifecycle: { rotateAfterDays: 30 } });
    const byAge = await runDevice(cloud, aged.device, { measure: NO_MEASURE, lifecycle: { rotateAfterDays: 30 }, now: () => Date.now() + 31 * 86_400_000 });

    // Assess
    expect(byShadow.result.outcome).toBe('rotated');
    expect((await cloud.registry.get(asked.device.thingName))?.history?.at(-1)).toMatchObject({ kind: 'rotation', why: 'rotation asked by an operator' });
    expect(notYet.result).toMatchObject({ outcome: 'verified', certificateId: aged.certificateId });
    expect(byAge.result.outcome).toBe('rotated');
    expect((await cloud.registry.get(aged.device.thingName))?.history?.at(-1)).toMatchObject({ kind: 'rotation', why: 'rotation started by the device' });
  });

  it('rotates and moves over MQTT 5 as over 3.1.1 (the shadow and provisioning clients on the MQTT 5 client)', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region } = await provisioned('mqtt5-lifecycle');
    const to = otherRegion(region);

    // Act
    const rotated = await runDevice(cloud, device, { measure: NO_MEASURE, protocol: 'mqtt5', lifecycle: { rotateNow: true } });
    await operator(cloud).move(device.thingName, to);
    const moved = await runDevice(cloud, device, { measure: NO_MEASURE, protocol: 'mqtt5' });

    // Assess
    expect(rotated.result).toMatchObject({ outcome: 'rotated', region });
    expect(moved.result).toMatchObject({ outcome: 'moved', region: to });
    expect((await cloud.registry.get(device.thingName))?.history?.map((h) => h.kind)).toEqual(['rotation', 'move']);
  });

  it('rotates when the certificate expires within --rotate-before-expiry-days', { timeout: 60_000 }, async () => {
    // Prepare: the local cloud's certificates end 2049-12-31; the device's clock says mid-November 2049.
    const { device, certificateId } = await provisioned('rotate-expiry');
    const november2049 = () => Date.parse('2049-11-15T00:00:00Z');

    // Act
    const { result, events } = await runDevice(cloud, device, { measure: NO_MEASURE, lifecycle: { rotateBeforeExpiryDays: 60 }, now: november2049 });

    // Assess
    expect(result.outcome).toBe('rotated');
    expect(result.certificateId).not.toBe(certificateId);
    expect(events.find((e) => e.step === 'rotate' && e.status === 'start')?.detail?.['why']).toMatch(/expires in 4\d days/);
  });

  it('a rotation the hook refuses leaves the device as it was; iot-provision rotate fails naming the step', { timeout: 60_000 }, async () => {
    // Prepare: the registry has the device moving (no shadow request), so the rotation hook refuses.
    const { device, region, certificateId } = await provisioned('rotate-refused');
    await cloud.registry.requestMove({ thingName: device.thingName, to: otherRegion(region), reason: 'test', moveId: 'm-test' });

    // Act
    const failed = await runDevice(cloud, device, { measure: NO_MEASURE, lifecycle: { rotateNow: true } }).catch((error: unknown) => error);

    // Assess
    expect(failed).toMatchObject({ name: 'StepFailed', step: 'register-thing' });
    expect(String((failed as Error).message)).toMatch(/403|AccessDenied/i);
    const after = await stored(device);
    expect(after?.state).toMatchObject({ certificateId, region });
    expect(after?.state.step === 'confirmed' ? after.state.pending : 'not confirmed').toBeUndefined();
    expect(hasNextFiles(device)).toBe(false);
    const again = await runDevice(cloud, device, { measure: NO_MEASURE, lifecycle: { switchWaitMs: 0 } });
    expect(again.result).toMatchObject({ certificateId, region });
  });
});

describe('move', () => {
  it('moves to the region the operator names: two phases, then the old certificate is revoked', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region, credentials } = await provisioned('move-named');
    const to = otherRegion(region);
    await operator(cloud).move(device.thingName, to);

    // Act
    const { result, events } = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(result).toMatchObject({ outcome: 'moved', region: to });
    expect(events.filter((e) => e.status === 'ok').map((e) => e.step)).toEqual([
      'load',
      'verify',
      'bootstrap',
      'connect',
      'create-certificate',
      'register-thing',
      'store-pending',
      'confirm',
      'switch',
      'acknowledge',
    ]);
    expect((await stored(device))?.state).toMatchObject({ step: 'confirmed', region: to, certificateId: result.certificateId });
    const record = await cloud.registry.get(device.thingName);
    expect(record).toMatchObject({ prov_status: 'provisioned', aws_region: to, certificate_id: result.certificateId });
    expect(record?.history?.at(-1)).toMatchObject({ kind: 'move', from: region, to });
    await eventually(async () => ((await connects(cloud, device.thingName, region, credentials)) ? undefined : true), 'the old certificate to be refused');
    const again = await runDevice(cloud, device, { measure: NO_MEASURE });
    expect(again.result).toMatchObject({ outcome: 'verified', region: to });
  });

  it('the new region unreachable mid-move: the device keeps working in the old one and moves on a later run', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region, certificateId } = await provisioned('move-unreachable');
    const to = otherRegion(region);
    await operator(cloud).move(device.thingName, to);
    // The device's network cannot reach the new region: nothing listens where it looks for it.
    const cutOff = (r: string, address: string) => (r === to ? { region: r, host: '127.0.0.1', port: 1 } : cloud.resolveEndpoint(r, address));

    // Act
    const blocked = await runDevice(cloud, device, { measure: NO_MEASURE, resolveEndpoint: cutOff });
    const statusBetween = (await cloud.registry.get(device.thingName))?.prov_status;
    const later = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(blocked.result).toMatchObject({ outcome: 'verified', region, certificateId, deferred: { action: 'move' } });
    expect(blocked.result.deferred?.reason).toMatch(/does not answer/);
    expect(blocked.events.find((e) => e.step === 'move' && e.status === 'retry')).toMatchObject({ status: 'retry', detail: { staying: region } });
    expect(statusBetween).toBe('moving');
    expect(later.result).toMatchObject({ outcome: 'moved', region: to });
  });
});

describe('move, more', () => {
  it('the new region gone after the new credentials were stored: the device runs on the old ones, and confirms and switches later', { timeout: 60_000 }, async () => {
    // Prepare: the new region answers until the device has stored its new credentials, then not.
    const { device, region, certificateId } = await provisioned('move-gone-mid');
    const to = otherRegion(region);
    await operator(cloud).move(device.thingName, to);
    let reachable = true;
    const flaky = (transport: MqttTransport): MqttTransport => {
      const gate = <T>(target: MqttTarget, call: () => Promise<T>): Promise<T> =>
        target.region === to && !reachable ? Promise.reject(new MqttConnectFailed(`${target.host}:${target.port}`, 'connection refused (cut off by the test)')) : call();
      return {
        openIdentitySession: (target, clientId, credentials) => gate(target, () => transport.openIdentitySession(target, clientId, credentials)),
        openDeviceSession: (target, clientId, credentials) => gate(target, () => transport.openDeviceSession(target, clientId, credentials)),
        checkConnection: (target, clientId, credentials) => gate(target, () => transport.checkConnection(target, clientId, credentials)),
        publishAcknowledged: (target, clientId, credentials, topic, payload) => gate(target, () => transport.publishAcknowledged(target, clientId, credentials, topic, payload)),
      };
    };
    const afterStep = async (step: string): Promise<void> => {
      if (step === 'store-pending') reachable = false;
    };

    // Act
    const cut = await runDevice(cloud, device, { measure: NO_MEASURE, wrapTransport: flaky, afterStep });
    const between = await stored(device);
    const statusBetween = (await cloud.registry.get(device.thingName))?.prov_status;
    reachable = true;
    const later = await runDevice(cloud, device, { measure: NO_MEASURE, wrapTransport: flaky });

    // Assess
    expect(cut.result).toMatchObject({ outcome: 'verified', region, certificateId, pending: { kind: 'move', region: to }, deferred: { action: 'move' } });
    expect(cut.events.find((e) => e.step === 'confirm' && e.status === 'failed')?.region).toBe(to);
    expect(between?.state.step === 'confirmed' ? between.state.pending?.confirmedAt : 'not confirmed').toBeUndefined();
    expect(statusBetween).toBe('moving');
    expect(later.result).toMatchObject({ outcome: 'moved', region: to, certificateId: cut.result.pending?.certificateId });
    expect(later.events.filter((e) => e.status === 'ok').map((e) => e.step)).toEqual(['load', 'confirm', 'switch', 'acknowledge']);
  });

  it('moves to the nearest other region when the operator says nearest', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region } = await provisioned('move-nearest');
    await operator(cloud).move(device.thingName, 'nearest');

    // Act
    const { result } = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(result).toMatchObject({ outcome: 'moved', region: otherRegion(region) });
    expect((await cloud.registry.get(device.thingName))?.aws_region).toBe(otherRegion(region));
  });

  it('listening, a move whose new region does not answer is tried again after the back-off, and goes through once it answers', { timeout: 60_000 }, async () => {
    // Prepare: the new region cut off for the first tries only.
    const { device, region } = await provisioned('move-listen-retry');
    const to = otherRegion(region);
    await operator(cloud).move(device.thingName, to);
    let reachable = false;
    const cutOff = (r: string, address: string) => (r === to && !reachable ? { region: r, host: '127.0.0.1', port: 1 } : cloud.resolveEndpoint(r, address));
    const setup = deviceSetup(cloud, device, { measure: NO_MEASURE, resolveEndpoint: cutOff, lifecycle: { retryBackoffMs: 400, retryMaxBackoffMs: 400 } });
    let runs = 0;
    const run = async () => {
      runs += 1;
      if (runs === 3) reachable = true;
      return provisionDevice(setup.identity, setup.options, setup.deps);
    };

    // Act
    const result = await listenForRequests(setup.identity, setup.options, setup.deps, 4_000, run);

    // Assess
    const moves = setup.events.filter((e) => e.step === 'move' && e.status === 'retry');
    expect(moves.length).toBe(2);
    expect(moves.every((e) => e.detail?.['staying'] === region)).toBe(true);
    expect(setup.events.filter((e) => e.step === 'listen' && e.status === 'ok').map((e) => e.detail?.['woke']).slice(0, 2)).toEqual(['retry', 'retry']);
    // The last run's result: the move, on the third try.
    expect(runs).toBe(3);
    expect(result).toMatchObject({ outcome: 'moved', region: to });
    expect((await cloud.registry.get(device.thingName))?.aws_region).toBe(to);
  });
});

/** The thing's classic shadow in a region, as the data plane's GetThingShadow returns it (undefined: none). */
async function shadowOf(thingName: string, region: string): Promise<{ state: Record<string, unknown> } | undefined> {
  const { GetThingShadowCommand } = await import('@aws-sdk/client-iot-data-plane');
  const { getIotDataClient } = await import('@global-iot/core/lifecycle/clients.js');
  try {
    const out = await getIotDataClient(region, { endpoint: cloud.cloud.iotControlEndpoint }).send(new GetThingShadowCommand({ thingName }));
    return JSON.parse(Buffer.from(out.payload ?? new Uint8Array()).toString('utf8')) as { state: Record<string, unknown> };
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

describe('reprovisioning policies, as the device lives them', () => {
  it.each([
    ['migrate', { desired: { interval: 60 }, reported: { interval: 30, firmware: '1.2' } }],
    ['reset', undefined],
  ] as const)('policy %s: after the move, the new shadow carries the old state (migrate) or none (reset), besides the switch', { timeout: 60_000 }, async (policy, carried) => {
    // Prepare: the device's own state in its shadow, written as the device and its app would.
    const { device, region } = await provisioned(`policy-${policy}`);
    await cloud.registry.setPolicy(device.thingName, policy);
    const publish = (doc: unknown) => cloud.cloud.region(region).dataPlane.publish(`$aws/things/${device.thingName}/shadow/update`, Buffer.from(JSON.stringify(doc)), 1, false);
    publish({ state: { desired: { interval: 60 }, reported: { interval: 30, firmware: '1.2' } } });
    const to = otherRegion(region);
    await operator(cloud).move(device.thingName, to);

    // Act
    const { result } = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(result).toMatchObject({ outcome: 'moved', region: to });
    const shadow = await shadowOf(device.thingName, to);
    const { iotProvisioning: desiredSwitch, ...desired } = (shadow?.state['desired'] ?? {}) as Record<string, unknown>;
    const { iotProvisioning: acknowledged, ...reported } = (shadow?.state['reported'] ?? {}) as Record<string, unknown>;
    expect(desiredSwitch).toMatchObject({ current: { certificateId: result.certificateId, region: to } });
    expect(acknowledged).toEqual({ current: { certificateId: result.certificateId, region: to } });
    expect({ desired, reported }).toEqual(carried ?? { desired: {}, reported: {} });
    await eventually(async () => ((await shadowOf(device.thingName, region)) === undefined ? true : undefined), 'the old shadow to be deleted');
  });

  it('policy never: the operator cannot ask for a move, and the device carries on where it is', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, region, certificateId } = await provisioned('policy-never');
    await cloud.registry.setPolicy(device.thingName, 'never');

    // Act
    const asking = operator(cloud).move(device.thingName, otherRegion(region));
    await expect(asking).rejects.toThrow(/never/);
    const { result } = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(result).toMatchObject({ outcome: 'verified', region, certificateId });
    expect(result.deferred).toBeUndefined();
  });
});

describe('acknowledging the switch', () => {
  it('acknowledges current in reported on the next run when a run stopped before it', { timeout: 60_000 }, async () => {
    // Prepare: the cloud's switch marker for the certificate the device runs on, as after a completion.
    const { device, region, certificateId } = await provisioned('ack-later');
    const { currentUpdate } = await import('@global-iot/core/lifecycle/shadow-protocol.js');
    cloud.cloud.region(region).dataPlane.publish(`$aws/things/${device.thingName}/shadow/update`, Buffer.from(currentUpdate({ certificateId, region })), 1, false);

    // Act
    const { events } = await runDevice(cloud, device, { measure: NO_MEASURE });

    // Assess
    expect(events.find((e) => e.step === 'acknowledge' && e.status === 'ok')).toBeDefined();
    const { GetThingShadowCommand } = await import('@aws-sdk/client-iot-data-plane');
    const { getIotDataClient } = await import('@global-iot/core/lifecycle/clients.js');
    const shadow = await getIotDataClient(region, { endpoint: cloud.cloud.iotControlEndpoint }).send(new GetThingShadowCommand({ thingName: device.thingName }));
    const doc = JSON.parse(Buffer.from(shadow.payload ?? new Uint8Array()).toString('utf8')) as { state: { reported?: unknown; delta?: unknown } };
    expect(doc.state.reported).toEqual({ iotProvisioning: { current: { certificateId, region } } });
    expect(doc.state.delta).toBeUndefined();
  });
});
