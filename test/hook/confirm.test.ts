import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyUnavailable } from '@global-iot/core/errors.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { createConfirmHandler, createHookHandler } from '@global-iot/pre-provisioning-hook/app.js';
import { lifecycleClients } from '@global-iot/pre-provisioning-hook/lifecycle-clients.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { RecordedInvocations } from '../helpers/telemetry.js';
import { certificateId, closedPort, hookEvent, HookWorld, readFixture } from './helpers.js';

const REGION = 'ap-southeast-2';
/** First provisionings never reach AWS IoT: clients of a port where nothing listens. */
const NO_LIFECYCLE = lifecycleClients({ iotEndpoint: 'http://127.0.0.1:9', iotDataEndpoint: 'http://127.0.0.1:9' });

let t: TestRegistry;
let w: HookWorld;
/** A registry whose DynamoDB refuses every connection: every call to it throws. */
let unreachable: DeviceRegistry;
let unreachableClient: DynamoDBClient;
beforeAll(async () => {
  t = await startTestRegistry();
  w = new HookWorld(t);
  unreachableClient = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${await closedPort()}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  unreachable = new DeviceRegistry({ client: unreachableClient, tableName: t.tableName });
});
afterAll(async () => {
  unreachableClient.destroy();
  await t.close();
});

/** A device the hook let through with `cert`, waiting for its first connection. */
async function provisioningDevice(cert: string) {
  const device = await w.assignedDevice(REGION);
  const response = await createHookHandler(w.deps())(hookEvent({ ...device, region: REGION, certificateId: cert }));
  expect(response.allowProvisioning).toBe(true);
  return device;
}

/** What the confirmation rule selects from a device's Basic Ingest publish. */
function confirmation(clientId: string, principal: string): Record<string, unknown> {
  return { clientId, principal, receivedAt: Date.parse('2026-11-28T12:00:00Z') };
}

describe('confirmation', () => {
  it('confirms the device that connects with the allowed certificate; the hook then denies everything', async () => {
    // Prepare
    const cert = certificateId();
    const device = await provisioningDevice(cert);
    const confirm = createConfirmHandler({ registry: t.registry, region: REGION, record: w.recorded.record, clients: NO_LIFECYCLE });
    // Act
    const result = await confirm(confirmation(device.thingName, cert));
    // Assess
    expect(result).toEqual({ confirmed: true });
    expect(w.lastLog()).toMatchObject({ message: 'provisioning-confirmation', thing: device.thingName, outcome: 'confirmed', region: REGION });
    const record = await w.record(device.thingName);
    expect(record).toMatchObject({ prov_status: 'provisioned', certificate_id: cert, prov_datetime: new Date(t.clock.now).toISOString() });
    const hook = createHookHandler(w.deps());
    const attempts = [
      hookEvent({ ...device, region: REGION, certificateId: cert }),
      hookEvent({ ...device, region: REGION, certificateId: certificateId() }),
    ];
    for (const event of attempts) {
      expect((await hook(event)).allowProvisioning).toBe(false);
      expect(w.lastLog()?.reason).toBe('registry: status is provisioned');
    }
    expect(await w.record(device.thingName)).toEqual(record);
  });

  it("confirms from the rule's event, and again when it is repeated", async () => {
    // Prepare: the fixture's device, provisioned with the fixture's certificate.
    const fixture = readFixture('confirmation-rule-event.json') as { clientId: string; principal: string };
    await t.registry.enroll({ thingName: fixture.clientId });
    const { ticket } = await w.assign(fixture.clientId, REGION);
    await createHookHandler(w.deps())(
      hookEvent({ thingName: fixture.clientId, ticket, region: REGION, certificateId: fixture.principal }),
    );
    const confirm = createConfirmHandler({ registry: t.registry, region: REGION, record: () => undefined, clients: NO_LIFECYCLE });
    // Act
    const first = await confirm(fixture);
    const duplicate = await confirm(fixture);
    // Assess
    expect(first).toEqual({ confirmed: true });
    expect(duplicate).toEqual({ confirmed: true });
    expect((await w.record(fixture.clientId))?.prov_status).toBe('provisioned');
  });

  it('does not confirm another certificate, another region, or a device the hook has not allowed', async () => {
    // Prepare
    const cert = certificateId();
    const device = await provisioningDevice(cert);
    const assignedOnly = await w.assignedDevice(REGION);
    const here = createConfirmHandler({ registry: t.registry, region: REGION, record: w.recorded.record, clients: NO_LIFECYCLE });
    const elsewhere = createConfirmHandler({ registry: t.registry, region: 'eu-west-1', record: () => undefined, clients: NO_LIFECYCLE });
    // Act
    const results = [
      await here(confirmation(device.thingName, certificateId())),
      await elsewhere(confirmation(device.thingName, cert)),
      await here(confirmation(assignedOnly.thingName, cert)),
    ];
    // Assess
    expect(results).toEqual([{ confirmed: false }, { confirmed: false }, { confirmed: false }]);
    expect(w.lastLog()?.reason).toBe('not the certificate the hook allowed here');
    expect((await w.record(device.thingName))?.prov_status).toBe('provisioning');
    expect((await w.record(assignedOnly.thingName))?.prov_status).toBe('assigned');
  });

  const malformed: [string, unknown, string][] = [
    ['null', null, 'malformed confirmation event'],
    ['an empty object', {}, 'malformed confirmation event'],
    ['a presence event', { clientId: 'dev-1', eventType: 'connected', principalIdentifier: 'a'.repeat(64) }, 'malformed confirmation event'],
    ['no principal', { ...confirmation('dev-1', 'a'.repeat(64)), principal: undefined }, 'malformed confirmation event'],
    ['a string receivedAt', { ...confirmation('dev-1', 'a'.repeat(64)), receivedAt: 'now' }, 'malformed confirmation event'],
    ['a client id that is no thing name', confirmation('iotconsole-1 #', 'a'.repeat(64)), 'client id is not a thing name'],
    ["n/a: the rule's clientid() for a message that did not come over MQTT", confirmation('n/a', 'a'.repeat(64)), 'client id is not a thing name'],
    ['an IAM principal', confirmation('dev-1', 'AROAEXAMPLE:operator@example.com'), 'principal is not a certificate'],
  ];
  it.each(malformed)('refuses %s without touching the registry', async (_name, event, reason) => {
    // Prepare
    const recorded = new RecordedInvocations();
    const confirm = createConfirmHandler({ registry: unreachable, region: REGION, record: recorded.record, clients: NO_LIFECYCLE });
    // Act
    const result = await confirm(event);
    // Assess
    expect(result).toEqual({ confirmed: false });
    expect(recorded.lines()).toEqual([expect.objectContaining({ outcome: 'not-confirmed', reason })]);
    expect(recorded.records[0]?.dimensions).toEqual([{ Outcome: 'not-confirmed' }, { Reason: reason }]);
  });

  it('throws when the registry is unavailable, so that the asynchronous invocation is retried', async () => {
    // Prepare
    const recorded = new RecordedInvocations();
    const confirm = createConfirmHandler({ registry: unreachable, region: REGION, record: recorded.record, clients: NO_LIFECYCLE });
    // Act / Assess
    await expect(confirm(confirmation('dev-1', 'a'.repeat(64)))).rejects.toThrow(DependencyUnavailable);
    expect(recorded.lines()).toEqual([expect.objectContaining({ outcome: 'error', reason: 'registry error' })]);
  });
});
