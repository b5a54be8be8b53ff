import { generateKeyPairSync } from 'node:crypto';
import {
  AttachPolicyCommand,
  CertificateValidationException,
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteConflictException,
  DeleteProvisioningTemplateCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeProvisioningTemplateCommand,
  DescribeThingCommand,
  InvalidRequestException,
  IoTClient,
  ListProvisioningTemplatesCommand,
  ListProvisioningTemplateVersionsCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  RegisterCertificateWithoutCACommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateCertificateCommand,
  UpdateProvisioningTemplateCommand,
  VersionsLimitExceededException,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProductTemplate } from '@global-iot/core/template/index.js';
import { CLAIM_POLICY_NAME } from '@global-iot/local/cloud.js';
import { createCertificateAuthority, encodeName, issueClientCertificate } from '@global-iot/local/pki.js';
import { closed, connectMqtt, startTestCloud, subscribeCodes, TEMPLATE, type TestCloud } from './support/cloud.js';
import { type ProvisionedDevice, provision } from './support/provisioning.js';

/** The IoT control plane, driven by @aws-sdk/client-iot exactly as the product and operators use it. */

const REGION = 'us-east-1';
const OTHER_REGION = 'eu-central-1';
const OTHER_HOST = 'eu-central-1.iot.local-cloud.test';
const ROLE = 'arn:aws:iam::123456789012:role/LocalIotProvisioningRole';

let test: TestCloud;
const clients: IoTClient[] = [];

function iotClient(region: string): IoTClient {
  const client = new IoTClient({
    region,
    endpoint: test.cloud.iotControlEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION, { region: OTHER_REGION, host: OTHER_HOST, address: '127.0.0.3' }] });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await test?.close();
});

describe('DescribeEndpoint', () => {
  it("answers each region's device endpoint, chosen by the request's region", async () => {
    // Act
    const [home, other] = await Promise.all([
      iotClient(REGION).send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })),
      iotClient(OTHER_REGION).send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })),
    ]);

    // Assess
    expect(home.endpointAddress).toBe('localhost');
    expect(other.endpointAddress).toBe(OTHER_HOST);
  });

  it('serves a region on its own loopback address under its own host name', async () => {
    // Act
    const client = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-loopback-client', { region: OTHER_REGION });

    // Assess
    expect(test.cloud.region(OTHER_REGION).endpoint).toMatchObject({ host: OTHER_HOST, address: '127.0.0.3' });
    expect((client.stream as unknown as { remoteAddress?: string }).remoteAddress).toBe('127.0.0.3');
    client.end(true);
  });

  it('refuses an endpoint type it does not emulate', async () => {
    // Act
    const attempt = iotClient(REGION).send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidRequestException);
  });

  it('refuses a region it does not emulate', async () => {
    // Act
    const attempt = iotClient('eu-west-1').send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidRequestException);
  });
});

describe('provisioning templates', () => {
  const body = readProductTemplate();
  const hookArn = () => test.cloud.functionArn(REGION, 'allow-hook');

  it('go through their life cycle: create, describe, list, update, versions, delete', async () => {
    // Prepare
    const iot = iotClient(REGION);

    // Act
    const created = await iot.send(
      new CreateProvisioningTemplateCommand({ templateName: 'Lifecycle', templateBody: body, provisioningRoleArn: ROLE, description: 'first' }),
    );
    const described = await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Lifecycle' }));
    const listed = await iot.send(new ListProvisioningTemplatesCommand({}));
    await iot.send(
      new UpdateProvisioningTemplateCommand({ templateName: 'Lifecycle', enabled: true, preProvisioningHook: { targetArn: hookArn() } }),
    );
    const version = await iot.send(
      new CreateProvisioningTemplateVersionCommand({ templateName: 'Lifecycle', templateBody: body.replace('"region"', '"home"'), setAsDefault: true }),
    );
    const updated = await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Lifecycle' }));
    const versions = await iot.send(new ListProvisioningTemplateVersionsCommand({ templateName: 'Lifecycle' }));
    const deleteDefault = iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'Lifecycle', versionId: 2 }));
    await expect(deleteDefault).rejects.toBeInstanceOf(DeleteConflictException);
    await iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'Lifecycle', versionId: 1 }));
    const afterDelete = await iot.send(new ListProvisioningTemplateVersionsCommand({ templateName: 'Lifecycle' }));
    await iot.send(new DeleteProvisioningTemplateCommand({ templateName: 'Lifecycle' }));
    const gone = iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Lifecycle' }));

    // Assess
    expect(created).toMatchObject({
      templateArn: `arn:aws:iot:${REGION}:${test.cloud.accountId}:provisioningtemplate/Lifecycle`,
      templateName: 'Lifecycle',
      defaultVersionId: 1,
    });
    expect(described).toMatchObject({ templateBody: body, enabled: false, defaultVersionId: 1, type: 'FLEET_PROVISIONING', description: 'first' });
    expect(described.creationDate).toBeInstanceOf(Date);
    expect(described.preProvisioningHook).toBeUndefined();
    expect(listed.templates?.map((t) => t.templateName)).toContain('Lifecycle');
    expect(version).toMatchObject({ versionId: 2, isDefaultVersion: true });
    expect(updated).toMatchObject({
      enabled: true,
      defaultVersionId: 2,
      preProvisioningHook: { targetArn: hookArn(), payloadVersion: '2020-04-01' },
    });
    expect(updated.templateBody).toContain('"home"');
    expect(versions.versions?.map((v) => [v.versionId, v.isDefaultVersion])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(afterDelete.versions?.map((v) => v.versionId)).toEqual([2]);
    await expect(gone).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('keep at most five versions', async () => {
    // Prepare
    const iot = iotClient(REGION);
    await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'Versions', templateBody: body, provisioningRoleArn: ROLE }));
    for (let i = 0; i < 4; i++) {
      await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Versions', templateBody: body }));
    }

    // Act
    const sixth = iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Versions', templateBody: body }));

    // Assess
    await expect(sixth).rejects.toBeInstanceOf(VersionsLimitExceededException);
  });

  it.each([
    ['a name with a space', { templateName: 'bad name', templateBody: body, provisioningRoleArn: ROLE }, InvalidRequestException],
    ['a body that is not a template', { templateName: 'BadBody', templateBody: '{"Resources": 3}', provisioningRoleArn: ROLE }, InvalidRequestException],
    ['a body over 10,240 characters', { templateName: 'Huge', templateBody: `${body}${' '.repeat(10_241)}`, provisioningRoleArn: ROLE }, InvalidRequestException],
    ['a role that is not a role ARN', { templateName: 'NoRole', templateBody: body, provisioningRoleArn: 'role' }, InvalidRequestException],
    [
      'a hook payload version AWS does not have',
      { templateName: 'OldHook', templateBody: body, provisioningRoleArn: ROLE, preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:x', payloadVersion: '2019-01-01' } },
      InvalidRequestException,
    ],
    ['a name that exists', { templateName: TEMPLATE, templateBody: body, provisioningRoleArn: ROLE }, ResourceAlreadyExistsException],
  ])('refuse %s', async (_label, input, exception) => {
    // Act
    const attempt = iotClient(REGION).send(new CreateProvisioningTemplateCommand(input));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(exception);
  });

  it('are per region', async () => {
    // Act
    const attempt = iotClient(OTHER_REGION).send(new DescribeProvisioningTemplateCommand({ templateName: 'Versions' }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('stop provisioning when disabled', async () => {
    // Prepare
    const iot = iotClient(REGION);
    await iot.send(new UpdateProvisioningTemplateCommand({ templateName: TEMPLATE, enabled: false }));
    const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-disabled-claim');

    // Act
    const attempt = provision(claim, TEMPLATE, 'never-provisioned');

    // Assess
    await expect(attempt).rejects.toThrow(/TemplateDisabled/);
    await iot.send(new UpdateProvisioningTemplateCommand({ templateName: TEMPLATE, enabled: true }));
    claim.end(true);
  });
});

describe('things and certificates', () => {
  let device: ProvisionedDevice;
  let claim: MqttClient;

  beforeAll(async () => {
    claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-registry-claim');
    device = await provision(claim, TEMPLATE, 'registry-device');
    await provision(claim, TEMPLATE, 'registry-device-2');
  });

  afterAll(() => {
    claim?.end(true);
  });

  it('describes a provisioned thing, its principals and its certificate', async () => {
    // Prepare
    const iot = iotClient(REGION);

    // Act
    const thing = await iot.send(new DescribeThingCommand({ thingName: device.thingName }));
    const principals = await iot.send(new ListThingPrincipalsCommand({ thingName: device.thingName }));
    const certificate = await iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));

    // Assess
    expect(thing).toMatchObject({
      thingName: 'registry-device',
      defaultClientId: 'registry-device',
      thingArn: `arn:aws:iot:${REGION}:${test.cloud.accountId}:thing/registry-device`,
      attributes: { region: REGION },
      version: 1,
    });
    expect(thing.thingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(principals.principals).toEqual([`arn:aws:iot:${REGION}:${test.cloud.accountId}:cert/${device.certificateId}`]);
    expect(certificate.certificateDescription).toMatchObject({
      certificateId: device.certificateId,
      status: 'ACTIVE',
      certificatePem: device.cert,
      ownedBy: test.cloud.accountId,
      caCertificateId: test.cloud.pki.deviceCa(REGION).certificateId,
    });
    expect(certificate.certificateDescription?.validity?.notAfter?.toISOString()).toBe('2049-12-31T23:59:59.000Z');
  });

  it('lists things, filtered by attribute and in pages', async () => {
    // Prepare
    const iot = iotClient(REGION);

    // Act
    const filtered = await iot.send(new ListThingsCommand({ attributeName: 'region', attributeValue: REGION }));
    const first = await iot.send(new ListThingsCommand({ maxResults: 1 }));
    const second = await iot.send(new ListThingsCommand({ maxResults: 1, nextToken: first.nextToken }));
    const none = await iot.send(new ListThingsCommand({ attributeName: 'region', attributeValue: 'mars-1' }));

    // Assess
    expect(filtered.things?.map((t) => t.thingName)).toEqual(expect.arrayContaining(['registry-device', 'registry-device-2']));
    expect(first.things).toHaveLength(1);
    expect(first.nextToken).toEqual(expect.any(String));
    expect(second.things?.[0]?.thingName).not.toBe(first.things?.[0]?.thingName);
    expect(none.things).toEqual([]);
  });

  it('reports unknown things and certificates as not found', async () => {
    // Prepare
    const iot = iotClient(REGION);

    // Act
    const thing = iot.send(new DescribeThingCommand({ thingName: 'nobody' }));
    const certificate = iot.send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(64) }));

    // Assess
    await expect(thing).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(certificate).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('deactivates a certificate: its connection drops and it cannot connect again', async () => {
    // Prepare
    const iot = iotClient(REGION);
    const connection = await connectMqtt(test, device, device.thingName);
    const gone = closed(connection);

    // Act
    await iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'INACTIVE' }));
    const described = await iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));

    // Assess
    await expect(gone).resolves.toBeUndefined();
    expect(described.certificateDescription?.status).toBe('INACTIVE');
    await expect(connectMqtt(test, device, device.thingName)).rejects.toThrow(/Not authorized/i);
    await iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'ACTIVE' }));
    const back = await connectMqtt(test, device, device.thingName);
    back.end(true);
    connection.end(true);
  });

  it('registers a certificate without a CA, which then connects on its registration alone', async () => {
    // Prepare
    const iot = iotClient(REGION);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const foreignCa = createCertificateAuthority({ commonName: 'Another account CA' }, new Date());
    const issued = issueClientCertificate(foreignCa, publicKey.export({ type: 'spki', format: 'der' }), new Date(), encodeName({ commonName: 'second claim' }));
    const identity = { cert: issued.certificatePem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };

    // Act
    const registered = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: issued.certificatePem, status: 'ACTIVE' }));
    const again = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: issued.certificatePem })).catch((error: unknown) => error);
    await iot.send(new AttachPolicyCommand({ policyName: CLAIM_POLICY_NAME, target: registered.certificateArn }));
    const client = await connectMqtt(test, identity, 'prov-second-claim');
    const codes = await subscribeCodes(client, ['$aws/certificates/create/json/accepted']);

    // Assess
    expect(again).toBeInstanceOf(ResourceAlreadyExistsException);
    expect(registered).toMatchObject({
      certificateId: issued.certificateId,
      certificateArn: `arn:aws:iot:${REGION}:${test.cloud.accountId}:cert/${issued.certificateId}`,
    });
    expect(codes).toEqual([1]);
    const description = await iot.send(new DescribeCertificateCommand({ certificateId: issued.certificateId }));
    expect(description.certificateDescription?.certificateMode).toBe('SNI_ONLY');
    client.end(true);
  });

  it('refuses to attach a policy that does not exist, or to a certificate of another region, changing nothing', async () => {
    // Prepare
    const iot = iotClient(REGION);
    const ca = createCertificateAuthority({ commonName: 'Attach test CA' }, new Date());
    const spki = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    const issued = issueClientCertificate(ca, spki, new Date());
    const registered = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: issued.certificatePem, status: 'ACTIVE' }));
    const foreign = `arn:aws:iot:${OTHER_REGION}:${test.cloud.accountId}:cert/${issued.certificateId}`;

    // Act
    const noPolicy = iot.send(new AttachPolicyCommand({ policyName: 'NoSuchPolicy', target: registered.certificateArn }));
    const otherRegion = iot.send(new AttachPolicyCommand({ policyName: CLAIM_POLICY_NAME, target: foreign }));
    const notAnArn = iot.send(new AttachPolicyCommand({ policyName: CLAIM_POLICY_NAME, target: 'cert/123' }));

    // Assess
    await expect(noPolicy).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(otherRegion).rejects.toBeInstanceOf(InvalidRequestException);
    await expect(notAnArn).rejects.toBeInstanceOf(InvalidRequestException);
    expect(test.cloud.region(REGION).state.policyNamesOf(issued.certificateId)).toEqual([]);
  });

  it('refuses to register text that is not a certificate', async () => {
    // Act
    const attempt = iotClient(REGION).send(new RegisterCertificateWithoutCACommand({ certificatePem: 'not a certificate' }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(CertificateValidationException);
  });
});
