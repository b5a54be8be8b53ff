import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeProvisioningTemplateCommand, DescribeThingCommand, IoTClient, UpdateProvisioningTemplateCommand } from '@aws-sdk/client-iot';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceRegistry, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { startLocalCloud } from '@global-iot/local/cloud.js';
import { asTestCloud, connectMqtt, TEMPLATE, type TestCloud, testFunctions, testLogger, testTemplates } from './support/cloud.js';
import { type ProvisionedDevice, provision } from './support/provisioning.js';

/** With a data directory, things, certificates, templates, shadows, DynamoDB items and the PKI survive a restart. */

const REGION = 'sa-east-1';
const dataDir = mkdtempSync(join(tmpdir(), 'local-cloud-data-'));

async function start(): Promise<TestCloud> {
  const cloud = await startLocalCloud({
    regions: [REGION],
    dataDir,
    deviceKeyAlgorithm: 'ec-p256',
    log: testLogger(),
    functions: testFunctions([REGION], { events: [] }),
    templates: testTemplates(),
    persistDebounceMs: 10,
  });
  return asTestCloud(cloud);
}

function clients(test: TestCloud) {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const iot = new IoTClient({ region: REGION, endpoint: test.cloud.iotControlEndpoint, credentials, maxAttempts: 1 });
  const dynamo = new DynamoDBClient({ region: REGION, endpoint: test.cloud.dynamo?.endpoint ?? '', credentials, maxAttempts: 1 });
  return { iot, dynamo, registry: new DeviceRegistry({ client: dynamo, tableName: 'registry' }) };
}

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a restart with --data-dir', () => {
  it('keeps things, certificates, templates, shadows, registry items and the CAs', async () => {
    // Prepare
    const first = await start();
    const before = clients(first);
    const claim = await connectMqtt(first, { cert: first.claimCert, key: first.claimKey }, 'prov-persisted-device');
    const device: ProvisionedDevice = await provision(claim, TEMPLATE, 'persisted-device');
    claim.end(true);
    await before.iot.send(new UpdateProvisioningTemplateCommand({ templateName: TEMPLATE, description: 'changed before the restart' }));
    first.cloud.region(REGION).state.putShadow('persisted-device', undefined, { version: 4, state: { desired: { mode: 'eco' } }, metadata: {} });
    await ensureRegistryTable(before.dynamo, 'registry');
    await before.registry.enroll({ thingName: 'persisted-device' });
    before.iot.destroy();
    before.dynamo.destroy();
    await first.close();

    // Act
    const second = await start();
    const after = clients(second);
    const thing = await after.iot.send(new DescribeThingCommand({ thingName: 'persisted-device' }));
    const template = await after.iot.send(new DescribeProvisioningTemplateCommand({ templateName: TEMPLATE }));
    const record = await after.registry.get('persisted-device');
    const shadow = second.cloud.region(REGION).state.getShadow('persisted-device', undefined);
    const connection = await connectMqtt(second, device, device.thingName);

    // Assess
    expect(thing.attributes).toEqual({ region: REGION });
    expect(template.description).toBe('changed before the restart');
    expect(record?.prov_status).toBe('unprovisioned');
    expect(shadow).toEqual({ version: 4, state: { desired: { mode: 'eco' } }, metadata: {} });
    expect(connection.connected).toBe(true);
    connection.end(true);
    after.iot.destroy();
    after.dynamo.destroy();
    await second.close();
  });
});
