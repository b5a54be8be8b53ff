import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProductTemplate } from '@global-iot/core/template/index.js';
import { DEVICE_POLICY_NAME } from '@global-iot/local/cloud.js';
import { OWNERSHIP_TOKEN_TTL_MS } from '@global-iot/local/iot/region-state.js';
import { createCsr, tamperSignature } from './support/csr.js';
import { createKeys, encode, register, request } from './support/provisioning.js';
import {
  BAD_ANSWER_TEMPLATE,
  connectMqtt,
  DENY_TEMPLATE,
  FAILING_TEMPLATE,
  startTestCloud,
  TEMPLATE,
  type TestCloud,
  testFunctions,
  testTemplates,
} from './support/cloud.js';

/**
 * Fleet provisioning driven by mqtt.js with the documented payloads, in JSON and CBOR: what a
 * device that does not use the AWS SDK sends and receives.
 */

const REGION = 'us-east-1';
const DISABLED_TEMPLATE = 'DisabledFleet';
const SLOW_TEMPLATE = 'SlowHookFleet';
const FAIL_TEMPLATE = 'FailOnConflictFleet';
const MISSING_TEMPLATE = 'NoSuchTemplate';

const clock = { now: Date.parse('2026-11-28T12:00:00Z') };
let test: TestCloud;
let claim: MqttClient;

function slowHookFunction() {
  return {
    region: REGION,
    name: 'slow-hook',
    handler: () => new Promise((resolve) => setTimeout(() => resolve({ allowProvisioning: true }), 1_500)),
  };
}

beforeAll(async () => {
  const body = readProductTemplate();
  // The same template, but refusing to change an existing thing's attributes.
  const failBody = body.replace('"AttributePayload": "MERGE"', '"AttributePayload": "FAIL"');
  const hookLog = { events: [] as unknown[] };
  test = await startTestCloud({
    now: () => clock.now,
    hookTimeoutMs: 1_000,
    functions: [...testFunctions([REGION], hookLog), slowHookFunction()],
    templates: [
      ...(testTemplates() ?? []),
      { templateName: DISABLED_TEMPLATE, templateBody: body, hookFunctionName: 'allow-hook', enabled: false },
      { templateName: SLOW_TEMPLATE, templateBody: body, hookFunctionName: 'slow-hook' },
      { templateName: FAIL_TEMPLATE, templateBody: failBody, hookFunctionName: 'allow-hook' },
    ],
    claimTemplateNames: [TEMPLATE, DENY_TEMPLATE, FAILING_TEMPLATE, BAD_ANSWER_TEMPLATE, DISABLED_TEMPLATE, SLOW_TEMPLATE, FAIL_TEMPLATE, MISSING_TEMPLATE],
  });
  test.hookLog = hookLog;
  claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-claim-client');
});

afterAll(async () => {
  claim?.end(true);
  await test?.close();
});

describe('CreateKeysAndCertificate', () => {
  it('issues a pending certificate from the region CA with a key and a token (JSON)', async () => {
    // Prepare
    const state = test.cloud.region(REGION).state;
    const deviceCa = new X509Certificate(test.cloud.pki.deviceCa(REGION).certificatePem);

    // Act
    const answer = await createKeys(claim);

    // Assess
    expect(answer.outcome).toBe('accepted');
    expect(Object.keys(answer.body).sort()).toEqual(['certificateId', 'certificateOwnershipToken', 'certificatePem', 'privateKey']);
    const certificate = new X509Certificate(String(answer.body['certificatePem']));
    expect(answer.body['certificateId']).toBe(createHash('sha256').update(certificate.raw).digest('hex'));
    expect(certificate.verify(deviceCa.publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(String(answer.body['privateKey'])))).toBe(true);
    expect(state.getCertificate(String(answer.body['certificateId']))?.status).toBe('PENDING_ACTIVATION');
  });

  it('answers in CBOR when asked in CBOR', async () => {
    // Act
    const answer = await createKeys(claim, 'cbor');

    // Assess
    expect(answer.outcome).toBe('accepted');
    expect(String(answer.body['certificatePem'])).toContain('BEGIN CERTIFICATE');
    expect(typeof answer.body['certificateOwnershipToken']).toBe('string');
  });

  it('refuses a payload that is not JSON', async () => {
    // Act
    const answer = await request(claim, '$aws/certificates/create/json', Buffer.from('{not json'), 'json');

    // Assess
    expect(answer).toEqual({ outcome: 'rejected', body: { statusCode: 400, errorCode: 'InvalidPayload', errorMessage: expect.any(String) } });
  });

  it('refuses a payload that is not CBOR, answering in CBOR', async () => {
    // Act
    const answer = await request(claim, '$aws/certificates/create/cbor', Buffer.from([0xff, 0x00, 0x13]), 'cbor');

    // Assess
    expect(answer.outcome).toBe('rejected');
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidPayload' });
  });

  it('keeps a certificate that is pending activation from connecting', async () => {
    // Prepare
    const created = await createKeys(claim);

    // Act
    const attempt = connectMqtt(test, { cert: String(created.body['certificatePem']), key: String(created.body['privateKey']) }, 'pending-device');

    // Assess
    await expect(attempt).rejects.toThrow(/Not authorized/i);
  });
});

describe('CreateCertificateFromCsr', () => {
  it('certifies the key of an RSA CSR, in CBOR', async () => {
    // Prepare
    const csr = await createCsr('rsa-2048', 'rsa-device');

    // Act
    const answer = await request(claim, '$aws/certificates/create-from-csr/cbor', encode('cbor', { certificateSigningRequest: csr.csrPem }), 'cbor');

    // Assess
    expect(answer.outcome).toBe('accepted');
    expect(Object.keys(answer.body).sort()).toEqual(['certificateId', 'certificateOwnershipToken', 'certificatePem']);
    const certificate = new X509Certificate(String(answer.body['certificatePem']));
    expect(certificate.checkPrivateKey(createPrivateKey(csr.privateKeyPem))).toBe(true);
    expect(certificate.subject).toBe('CN=rsa-device');
  });

  it('certifies the key of an EC P-256 CSR, in JSON', async () => {
    // Prepare
    const csr = await createCsr('ec-p256');

    // Act
    const answer = await request(claim, '$aws/certificates/create-from-csr/json', encode('json', { certificateSigningRequest: csr.csrPem }), 'json');

    // Assess
    expect(answer.outcome).toBe('accepted');
    const certificate = new X509Certificate(String(answer.body['certificatePem']));
    expect(certificate.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      createPublicKey(createPrivateKey(csr.privateKeyPem)).export({ type: 'spki', format: 'der' }),
    );
  });

  it.each([
    ['a CSR whose signature does not verify', async () => tamperSignature((await createCsr('ec-p256')).csrPem)],
    ['an RSA key under 2048 bits', async () => (await createCsr('rsa-1024')).csrPem],
    ['a curve AWS does not take (P-521)', async () => (await createCsr('ec-p521')).csrPem],
    ['text that is not a CSR', async () => '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'],
  ])('refuses %s', async (_label, makeCsr) => {
    // Prepare
    const certificateSigningRequest = await makeCsr();
    const before = test.cloud.region(REGION).state.listCertificates().length;

    // Act
    const answer = await request(claim, '$aws/certificates/create-from-csr/json', encode('json', { certificateSigningRequest }), 'json');

    // Assess
    expect(answer.outcome).toBe('rejected');
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateSigningRequest' });
    expect(test.cloud.region(REGION).state.listCertificates()).toHaveLength(before);
  });

  it('refuses a request without a CSR', async () => {
    // Act
    const answer = await request(claim, '$aws/certificates/create-from-csr/json', encode('json', {}), 'json');

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidPayload' });
  });
});

describe('RegisterThing', () => {
  it('creates the thing, activates the certificate and lets the device connect with it (JSON)', async () => {
    // Prepare
    const created = await createKeys(claim);
    const token = String(created.body['certificateOwnershipToken']);
    const certificateId = String(created.body['certificateId']);
    const events = test.hookLog.events.length;

    // Act
    const answer = await register(claim, TEMPLATE, { certificateOwnershipToken: token, parameters: { ThingName: 'json-device', Ticket: 't1.x' } });

    // Assess
    expect(answer).toEqual({ outcome: 'accepted', body: { thingName: 'json-device', deviceConfiguration: { region: REGION } } });
    expect(test.hookLog.events.slice(events)).toEqual([
      {
        claimCertificateId: test.cloud.pki.claim.certificateId,
        certificateId,
        certificatePem: created.body['certificatePem'],
        templateArn: `arn:aws:iot:${REGION}:${test.cloud.accountId}:provisioningtemplate/${TEMPLATE}`,
        clientId: 'prov-claim-client',
        parameters: { ThingName: 'json-device', Ticket: 't1.x' },
      },
    ]);
    const state = test.cloud.region(REGION).state;
    expect(state.getCertificate(certificateId)?.status).toBe('ACTIVE');
    expect(state.getThing('json-device')).toMatchObject({ attributes: { region: REGION }, principals: [certificateId] });
    const device = await connectMqtt(test, { cert: String(created.body['certificatePem']), key: String(created.body['privateKey']) }, 'json-device');
    device.end(true);
  });

  it('provisions end to end in CBOR from a CSR', async () => {
    // Prepare
    const csr = await createCsr('ec-p256');
    const created = await request(claim, '$aws/certificates/create-from-csr/cbor', encode('cbor', { certificateSigningRequest: csr.csrPem }), 'cbor');

    // Act
    const answer = await register(
      claim,
      TEMPLATE,
      { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'cbor-device', Ticket: 't' } },
      'cbor',
    );

    // Assess
    expect(answer).toEqual({ outcome: 'accepted', body: { thingName: 'cbor-device', deviceConfiguration: { region: REGION } } });
    const device = await connectMqtt(test, { cert: String(created.body['certificatePem']), key: csr.privateKeyPem }, 'cbor-device');
    device.end(true);
  });

  it('attaches the policy the template names', async () => {
    // Prepare
    const created = await createKeys(claim);

    // Act
    await register(claim, TEMPLATE, { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'policy-device', Ticket: 't' } });

    // Assess
    const state = test.cloud.region(REGION).state;
    expect(state.policiesOf(String(created.body['certificateId']))).toEqual([state.getPolicy(DEVICE_POLICY_NAME)?.compiled]);
  });

  it.each([
    ['an empty token', { parameters: { ThingName: 'x', Ticket: 't' } }, 400, 'InvalidCertificateOwnershipToken'],
    ['a token nobody issued', { certificateOwnershipToken: 'bm90LWEtdG9rZW4=', parameters: { ThingName: 'x', Ticket: 't' } }, 400, 'InvalidCertificateOwnershipToken'],
    ['parameters that are not strings', { certificateOwnershipToken: 'abc', parameters: { ThingName: 7 } }, 400, 'InvalidPayload'],
  ])('refuses %s', async (_label, body, statusCode, errorCode) => {
    // Act
    const answer = await register(claim, TEMPLATE, body);

    // Assess
    expect(answer).toEqual({ outcome: 'rejected', body: { statusCode, errorCode, errorMessage: expect.any(String) } });
  });

  it('refuses an empty payload', async () => {
    // Act
    const answer = await request(claim, `$aws/provisioning-templates/${TEMPLATE}/provision/json`, Buffer.alloc(0), 'json');

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidPayload' });
  });

  it.each([
    ['a template that does not exist', MISSING_TEMPLATE, 404, 'ResourceNotFound'],
    ['a disabled template', DISABLED_TEMPLATE, 403, 'TemplateDisabled'],
    ['a hook that denies', DENY_TEMPLATE, 403, 'AccessDenied'],
    ['a hook that fails', FAILING_TEMPLATE, 403, 'AccessDenied'],
    ['a hook whose allowProvisioning is not a boolean', BAD_ANSWER_TEMPLATE, 403, 'AccessDenied'],
    ['a hook that does not answer in time', SLOW_TEMPLATE, 403, 'AccessDenied'],
  ])('refuses %s and leaves the certificate pending', async (_label, template, statusCode, errorCode) => {
    // Prepare
    const created = await createKeys(claim);
    const certificateId = String(created.body['certificateId']);

    // Act
    const answer = await register(claim, template, { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: `refused-${statusCode}`, Ticket: 't' } });

    // Assess
    expect(answer).toEqual({ outcome: 'rejected', body: { statusCode, errorCode, errorMessage: expect.any(String) } });
    expect(test.cloud.region(REGION).state.getCertificate(certificateId)?.status).toBe('PENDING_ACTIVATION');
    expect(test.cloud.region(REGION).state.getThing(`refused-${statusCode}`)).toBeUndefined();
  });

  it('lets a refused token be used again, and a used one never', async () => {
    // Prepare
    const created = await createKeys(claim);
    const body = { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'retry-device', Ticket: 't' } };
    const denied = await register(claim, DENY_TEMPLATE, body);

    // Act
    const allowed = await register(claim, TEMPLATE, body);
    const replayed = await register(claim, TEMPLATE, body);

    // Assess
    expect(denied.outcome).toBe('rejected');
    expect(allowed.outcome).toBe('accepted');
    expect(replayed.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
  });

  it('refuses a template evaluation that lacks a parameter', async () => {
    // Prepare
    const created = await createKeys(claim);

    // Act
    const answer = await register(claim, TEMPLATE, { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { Ticket: 't' } });

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidParameters' });
  });

  it('refuses to change an existing thing whose override setting is FAIL', async () => {
    // Prepare
    const first = await createKeys(claim);
    await register(claim, TEMPLATE, { certificateOwnershipToken: first.body['certificateOwnershipToken'], parameters: { ThingName: 'conflict-device', Ticket: 't' } });
    test.cloud.region(REGION).state.putThing({ thingName: 'conflict-device', attributes: { region: 'elsewhere' }, thingGroups: [] });
    const second = await createKeys(claim);

    // Act
    const answer = await register(claim, FAIL_TEMPLATE, { certificateOwnershipToken: second.body['certificateOwnershipToken'], parameters: { ThingName: 'conflict-device', Ticket: 't' } });

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 409, errorCode: 'ResourceConflict' });
    expect(test.cloud.region(REGION).state.getCertificate(String(second.body['certificateId']))?.status).toBe('PENDING_ACTIVATION');
  });

  it('refuses a token after its hour, and the sweep deletes the certificate nobody registered', async () => {
    // Prepare
    const created = await createKeys(claim);
    const certificateId = String(created.body['certificateId']);
    clock.now += OWNERSHIP_TOKEN_TTL_MS;

    // Act
    const answer = await register(claim, TEMPLATE, { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'late-device', Ticket: 't' } });
    test.cloud.region(REGION).state.sweep();

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
    expect(test.cloud.region(REGION).state.getCertificate(certificateId)).toBeUndefined();
  });
});
