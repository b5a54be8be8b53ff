import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { DEFAULT_TEMPLATE_NAME, startLocalCloud } from '@global-iot/local/cloud.js';
import { createLogger } from '@global-iot/local/log.js';
import { productKeyPaths, productWiring } from '@global-iot/local/product.js';
import { asTestCloud, connectMqtt, type TestCloud, within } from './support/cloud.js';
import { createKeys, register } from './support/provisioning.js';

/**
 * The product on the local cloud, end to end: the real bootstrap handler behind the local API,
 * the real hook and confirmation in the assigned region, the registry in dynalite.
 */

const REGIONS = ['us-east-1', 'eu-central-1'];

describe.each([
  ['on the cloud\'s thread', false],
  ['on a thread of its own', true],
])('the product on the local cloud, functions %s', (_label, functionsThread) => {
  const dir = mkdtempSync(join(tmpdir(), 'local-cloud-product-'));
  let test: TestCloud;
  let registry: DeviceRegistry;
  let dynamo: DynamoDBClient;
  /** The cloud's log lines: each run of the confirmation function writes one. */
  const lines: string[] = [];
  const confirmations = (thing: string) =>
    lines.map((l) => JSON.parse(l) as { message?: string; thing?: string }).filter((e) => e.message === 'provisioning-confirmation' && e.thing === thing).length;

  beforeAll(async () => {
    const log = createLogger('info', (line) => lines.push(line));
    const cloud = await startLocalCloud({
      regions: REGIONS,
      pkiDir: join(dir, 'pki'),
      deviceKeyAlgorithm: 'ec-p256',
      demo: true,
      log,
      wire: productWiring({ keysDir: join(dir, 'keys'), log, geolocation: false, functionsThread }),
    });
    test = asTestCloud(cloud);
    dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: cloud.dynamo?.endpoint ?? '', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    registry = new DeviceRegistry({ client: dynamo, tableName: 'iot-device-registry' });
  });

  afterAll(async () => {
    dynamo?.destroy();
    await test?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    return within(
      new Promise((resolve, reject) => {
        const req = httpsRequest(url, { method: 'POST', ca: test.rootCa, headers: { 'content-type': 'application/json' } }, (res) => {
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

  describe('end to end', () => {
    it('bootstraps, provisions in the assigned region and confirms through the Basic Ingest rule', async () => {
      // Prepare
      const thingName = 'e2e-device-1';
      await registry.enroll({ thingName });
      const fleetKey = createPrivateKey(readFileSync(productKeyPaths(join(dir, 'keys')).fleetSigningKeyPath, 'utf8'));

      // Act
      const answer = await post(`${test.cloud.bootstrapUrl ?? ''}/bootstrap`, signedBootstrapRequest(fleetKey, thingName, Date.now()));
      const region = String(answer.body['region']);
      const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, `prov-${thingName}`, { region });
      const created = await createKeys(claim);
      const registered = await register(claim, String(answer.body['templateName']), {
        certificateOwnershipToken: created.body['certificateOwnershipToken'],
        parameters: { ThingName: thingName, Ticket: String(answer.body['ticket']) },
      });
      claim.end(true);
      const identity = { cert: String(created.body['certificatePem']), key: String(created.body['privateKey']) };
      const device = await connectMqtt(test, identity, thingName, { region });
      // Connecting alone confirms nothing: only the device's one publish does.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const beforePublish = await registry.get(thingName);
      await device.publishAsync(confirmationTopic(DEFAULT_CONFIRMATION_RULE_NAME), '{}', { qos: 1 });
      const confirmed = await within(
        (async () => {
          for (;;) {
            const record = await registry.get(thingName);
            if (record?.prov_status === 'provisioned') return record;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })(),
        10_000,
        'the confirmation',
      );
      device.end(true);
      // Then the device reconnects, as on every later boot: no rule, no function, no write.
      const runsAfterConfirming = confirmations(thingName);
      for (let reboot = 0; reboot < 3; reboot++) (await connectMqtt(test, identity, thingName, { region })).end(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const afterReboots = await registry.get(thingName);

      // Assess
      expect(beforePublish?.prov_status).toBe('provisioning');
      expect(runsAfterConfirming).toBe(1);
      expect(confirmations(thingName)).toBe(1);
      expect(afterReboots).toEqual(confirmed);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ status: 'success', endpointAddress: 'localhost', templateName: DEFAULT_TEMPLATE_NAME });
      expect(REGIONS).toContain(region);
      expect(registered).toEqual({ outcome: 'accepted', body: { thingName, deviceConfiguration: { region } } });
      expect(confirmed).toMatchObject({ prov_status: 'provisioned', aws_region: region, certificate_id: created.body['certificateId'] });
    });

    it('denies RegisterThing without a valid ticket, through the real hook', async () => {
      // Prepare
      const thingName = 'e2e-device-2';
      await registry.enroll({ thingName });
      const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, `prov-${thingName}`);
      const created = await createKeys(claim);

      // Act
      const registered = await register(claim, DEFAULT_TEMPLATE_NAME, {
        certificateOwnershipToken: created.body['certificateOwnershipToken'],
        parameters: { ThingName: thingName, Ticket: 't1.forged.ticket' },
      });
      claim.end(true);

      // Assess
      expect(registered.body).toMatchObject({ statusCode: 403, errorCode: 'AccessDenied' });
    });
  });
});
