import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeCertificateCommand, ListAttachedPoliciesCommand, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { type ProductCloud, startProductCloud } from '../device/support/cloud.js';
import { enrollDevice, eventually, runDevice, type TestDevice } from '../device/support/device.js';
import { opsAgainst, writeOpsConfig } from './helpers.js';

/**
 * block, unblock and `reset --revoke` against the local cloud running the product: a device
 * provisioned with the device library, its open MQTT connection, and the certificates in AWS IoT's
 * control plane (through @aws-sdk/client-iot), as an operator would see them.
 */

const REGIONS = ['us-east-1', 'eu-central-1'];

let cloud: ProductCloud;
let configPath: string;
const ops = opsAgainst(() => ({ product: cloud, configPath }));
/** The same deployment with a region the local cloud does not run: its calls fail. */
let brokenConfigPath: string;

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
  configPath = writeOpsConfig(cloud.workDir, REGIONS);
  brokenConfigPath = writeOpsConfig(cloud.workDir, [...REGIONS, 'ap-south-1'], 'broken.json');
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

const iot = (region: string) => getIotClient(region, { endpoint: cloud.cloud.iotControlEndpoint });

async function certificateStatus(region: string, certificateId: string): Promise<string | undefined> {
  const out = await iot(region).send(new DescribeCertificateCommand({ certificateId }));
  return out.certificateDescription?.status;
}

/** The device's own MQTT connection with its stored credentials; rejects when refused. */
async function connectDevice(device: TestDevice, region: string): Promise<MqttClient> {
  const target = cloud.resolveEndpoint(region, 'localhost');
  const client = mqtt.connect({
    protocol: 'mqtts',
    host: target.host,
    port: target.port,
    servername: target.host,
    ca: cloud.rootCa,
    cert: readFileSync(join(device.dir, 'out', 'device.crt'), 'utf8'),
    key: readFileSync(join(device.dir, 'out', 'device.key'), 'utf8'),
    clientId: device.thingName,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

const json = (text: string) => JSON.parse(text) as { steps: { action: string; outcome: string; region?: string; certificateId?: string }[] } & Record<string, unknown>;

describe('block, unblock and reset --revoke', () => {
  let device: TestDevice;
  let region: string;
  let certificateId: string;

  beforeAll(async () => {
    device = await enrollDevice(cloud, 'lifecycle-1', '203.0.113.10');
    const { result } = await runDevice(cloud, device);
    region = result.region;
    certificateId = result.certificateId;
  }, 60_000);

  it('block: the registry refuses the device, its certificate goes INACTIVE and its open connection drops', async () => {
    // Prepare
    const online = await connectDevice(device, region);
    const dropped = new Promise<void>((resolve) => online.once('close', () => resolve()));

    // Act
    const dry = await ops(['block', device.thingName, '--reason', 'stolen', '--dry-run', '--json']);
    const statusAfterDry = await certificateStatus(region, certificateId);
    const run = await ops(['block', device.thingName, '--reason', 'stolen', '--json']);
    await dropped;
    const reconnect = connectDevice(device, region);

    // Assess
    expect(dry.code).toBe(EXIT.ok);
    expect(json(dry.out).steps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'registry', outcome: 'would' }),
        expect.objectContaining({ action: 'deactivate', outcome: 'would', region, certificateId }),
      ]),
    );
    expect(statusAfterDry).toBe('ACTIVE');
    expect(run.code).toBe(EXIT.ok);
    expect(json(run.out)).toMatchObject({ from: 'provisioned', to: 'blocked', dryRun: false });
    expect(await certificateStatus(region, certificateId)).toBe('INACTIVE');
    await expect(reconnect).rejects.toThrow(/Not authorized/i);
    expect(await cloud.registry.get(device.thingName)).toMatchObject({
      prov_status: 'blocked',
      blocked_from: 'provisioned',
      blocked_certificates: [`${region}/${certificateId}`],
      status_reason: 'stolen',
    });
  });

  it('reset without --revoke refuses a blocked device, and changes nothing', async () => {
    // Act
    const run = await ops(['reset', device.thingName, '--reason', 'oops']);

    // Assess
    expect(run.code).toBe(EXIT.failed);
    expect(run.err).toMatch(/blocked; use unblock/);
    expect((await cloud.registry.get(device.thingName))?.prov_status).toBe('blocked');
  });

  it('unblock: the certificate the block deactivated is ACTIVE again and the device is provisioned, as before', async () => {
    // Act
    const run = await ops(['unblock', device.thingName, '--reason', 'found']);
    const online = await connectDevice(device, region);
    online.end(true);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(new RegExp(`^${device.thingName}: blocked -> provisioned\\n`));
    expect(run.out).toMatch(/reactivate +\S+ +[0-9a-f]{64} +done +INACTIVE -> ACTIVE/);
    expect(await certificateStatus(region, certificateId)).toBe('ACTIVE');
    const record = await cloud.registry.get(device.thingName);
    expect(record).toMatchObject({ prov_status: 'provisioned', certificate_id: certificateId, status_reason: 'found' });
    expect(record?.blocked_from).toBeUndefined();
    expect(record?.blocked_certificates).toBeUndefined();
  });

  it('reset --revoke: the old certificate is revoked and detached, and the new board provisions the same thing', async () => {
    // Prepare
    const online = await connectDevice(device, region);
    const dropped = new Promise<void>((resolve) => online.once('close', () => resolve()));

    // Act
    const dry = await ops(['reset', device.thingName, '--reason', 'board replaced', '--revoke', '--dry-run']);
    const run = await ops(['reset', device.thingName, '--reason', 'board replaced (RMA 7)', '--revoke', '--json']);
    await dropped;
    const attached = await iot(region).send(new ListAttachedPoliciesCommand({ target: `arn:aws:iot:${region}:${cloud.cloud.accountId}:cert/${certificateId}` }));
    const principalsAfterReset = await iot(region).send(new ListThingPrincipalsCommand({ thingName: device.thingName }));
    rmSync(join(device.dir, 'out'), { recursive: true, force: true });
    const { result } = await runDevice(cloud, device);
    const principals = await iot(result.region).send(new ListThingPrincipalsCommand({ thingName: device.thingName }));

    // Assess
    expect(dry.code).toBe(EXIT.ok);
    expect(dry.out).toMatch(/\(dry run: nothing changed\)/);
    expect(run.code).toBe(EXIT.ok);
    expect(json(run.out).steps.map((s) => `${s.action} ${s.outcome}`)).toEqual(['revoke done', 'detach-policy done', 'detach-thing done', 'registry done']);
    expect(await certificateStatus(region, certificateId)).toBe('REVOKED');
    expect(attached.policies).toEqual([]);
    expect(principalsAfterReset.principals).toEqual([]);
    expect(result.outcome).toBe('provisioned');
    expect(result.certificateId).not.toBe(certificateId);
    expect(principals.principals).toEqual([`arn:aws:iot:${result.region}:${cloud.cloud.accountId}:cert/${result.certificateId}`]);
    await eventually(async () => ((await cloud.registry.get(device.thingName))?.prov_status === 'provisioned' ? true : undefined), 'the confirmation');
  });
});

describe('a region that does not answer', () => {
  it('block does what it can, reports the region that failed, and exits 3; a re-run in a sound deployment finishes', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'lifecycle-2', '203.0.113.11');
    const { result } = await runDevice(cloud, device);

    // Act
    const partial = await ops(['block', device.thingName, '--reason', 'lost'], brokenConfigPath);
    const status = await certificateStatus(result.region, result.certificateId);
    const again = await ops(['block', device.thingName, '--reason', 'lost']);

    // Assess
    expect(partial.code).toBe(EXIT.partial);
    expect(partial.out).toMatch(/deactivate +ap-south-1 +- +failed +InvalidRequestException: region ap-south-1 is not emulated/);
    expect(partial.out).toMatch(/deactivate +\S+ +[0-9a-f]{64} +done/);
    expect(status).toBe('INACTIVE');
    expect((await cloud.registry.get(device.thingName))?.prov_status).toBe('blocked');
    expect(again.code).toBe(EXIT.ok);
    expect(again.out).toMatch(/deactivate +\S+ +[0-9a-f]{64} +unchanged +already INACTIVE/);
    // The first block's state is kept: unblock still knows where the device was.
    expect(await cloud.registry.get(device.thingName)).toMatchObject({ blocked_from: 'provisioned', blocked_certificates: [`${result.region}/${result.certificateId}`] });
  });

  it('unblock refuses a device that is not blocked, and says so', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'lifecycle-3', '203.0.113.12');

    // Act
    const run = await ops(['unblock', device.thingName, '--reason', 'x']);

    // Assess
    expect(run.code).toBe(EXIT.failed);
    expect(run.err).toMatch(/is not blocked \(status unprovisioned\)/);
  });
});
