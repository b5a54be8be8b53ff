import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeCertificateCommand, DescribeThingCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { type ProductCloud, startProductCloud } from '../device/support/cloud.js';
import { enrollDevice, runDevice } from '../device/support/device.js';
import { opsAgainst, writeOpsConfig } from './helpers.js';

/**
 * `iot-ops cleanup` against the local cloud running the product: a device provisioned for real
 * (its thing, certificate and shadow in AWS IoT's emulation), a completed move in the registry
 * that leaves its old region to retire, and what the command does and leaves.
 */

const REGIONS = ['us-east-1', 'eu-central-1'];
const NEW_CERT = 'f'.repeat(64);

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

const iot = (region: string) => getIotClient(region, { endpoint: cloud.cloud.iotControlEndpoint });
const data = (region: string) => new IoTDataPlaneClient({ region, endpoint: cloud.cloud.iotControlEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

async function exists(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/** A device provisioned for real, then moved in the registry to the other region (the confirmation's switch, without its clean-up). */
async function movedDevice(name: string): Promise<{ from: string; to: string; certificateId: string }> {
  const device = await enrollDevice(cloud, name, '203.0.113.20');
  const { result } = await runDevice(cloud, device);
  const from = result.region;
  const to = REGIONS.find((r) => r !== from) ?? '';
  await data(from).send(new UpdateThingShadowCommand({ thingName: name, payload: Buffer.from(JSON.stringify({ state: { reported: { temp: 21 } } })) }));
  await cloud.registry.requestMove({ thingName: name, to, reason: 'test', moveId: `m-${name}` });
  await cloud.registry.assign({ thingName: name, expectedStatus: 'moving', region: to, requestTs: Date.now() + 60_000, ticketId: `t-${name}-m`, ticketExpiresAt: Date.now() + 900_000 });
  await cloud.registry.beginProvisioning({ thingName: name, region: to, ticketId: `t-${name}-m`, certificateId: NEW_CERT, maxAttempts: 3 });
  const moving = await cloud.registry.get(name);
  if (!moving) throw new Error('no record');
  await cloud.registry.completeMove(moving, { certificateId: NEW_CERT, region: to });
  return { from, to, certificateId: result.certificateId };
}

describe('ops cleanup', () => {
  it('--dry-run lists what is pending and changes nothing; then the old region is retired and the entries removed', async () => {
    // Prepare
    const name = 'cleanup-1';
    const { from, to, certificateId } = await movedDevice(name);

    // Act
    const dry = await ops(['cleanup', '--all', '--dry-run', '--json']);
    const activeAfterDry = (await iot(from).send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;
    const run = await ops(['cleanup', name, '--json']);

    // Assess
    expect(dry.code).toBe(EXIT.ok);
    expect((JSON.parse(dry.out) as { items: unknown[] }).items).toContainEqual(
      expect.objectContaining({ thingName: name, pending: [`keep/${to}/${NEW_CERT}`, `retire/${from}`].sort(), done: [] }),
    );
    expect(activeAfterDry).toBe('ACTIVE');
    expect(run.code).toBe(EXIT.ok);
    expect((await iot(from).send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status).toBe('REVOKED');
    expect(await exists(() => iot(from).send(new DescribeThingCommand({ thingName: name })))).toBe(false);
    expect(await exists(() => data(from).send(new GetThingShadowCommand({ thingName: name })))).toBe(false);
    expect(await cloud.registry.get(name)).toMatchObject({ prov_status: 'provisioned', aws_region: to, certificate_id: NEW_CERT });
    expect((await cloud.registry.get(name))?.cleanup_pending).toBeUndefined();
  }, 60_000);

  it('leaves an entry it could not finish, and says so (exit 1)', async () => {
    // Prepare: an entry for a region whose control plane does not answer (the local cloud does not run it).
    await cloud.registry.enroll({ thingName: 'cleanup-2' });
    const { tableName } = parseDeploymentConfig({ homeRegion: REGIONS[0], regions: REGIONS, defaultRegion: REGIONS[0] });
    const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: cloud.cloud.dynamo?.endpoint ?? '', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await dynamo.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { thing_name: { S: 'cleanup-2' } },
        UpdateExpression: 'ADD cleanup_pending :r',
        ExpressionAttributeValues: { ':r': { SS: ['retire/ap-south-1'] } },
      }),
    );
    dynamo.destroy();

    // Act
    const run = await ops(['cleanup', 'cleanup-2']);

    // Assess
    expect(run.code).toBe(EXIT.failed);
    expect(run.out).toMatch(/cleanup-2\s+retire\/ap-south-1\s+-\s+retire\/ap-south-1\s+revoke ap-south-1: /);
    expect((await cloud.registry.get('cleanup-2'))?.cleanup_pending).toEqual(['retire/ap-south-1']);
  });

  it('refuses neither or both of a thing and --all (exit 2)', async () => {
    expect((await ops(['cleanup'])).code).toBe(EXIT.usage);
    expect((await ops(['cleanup', 'x', '--all'])).code).toBe(EXIT.usage);
  });
});
