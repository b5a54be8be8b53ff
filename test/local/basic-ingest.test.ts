import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRMATION_RULE_SQL, CONFIRMATION_TOPIC, confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { startLocalCloud } from '@global-iot/local/cloud.js';
import { encodeName, issueClientCertificate } from '@global-iot/local/pki.js';
import {
  asTestCloud,
  type ClientIdentity,
  closed,
  connectMqtt,
  subscribeCodes,
  TEMPLATE,
  type TestCloud,
  testFunctions,
  testLogger,
  testTemplates,
  within,
} from './support/cloud.js';
import { type ProvisionedDevice, provision } from './support/provisioning.js';

/**
 * Basic Ingest and the rules engine, as the confirmation uses them: a publish to
 * `$aws/rules/<rule>/<topic>` reaches that rule alone (never a subscriber) and needs iot:Publish on
 * that very topic; the rule's SQL (the one infra deploys) takes `clientid()` and `principal()` from
 * the connection, whatever the payload says; and a rule's FROM topic also takes ordinary publishes.
 */

const REGION = 'us-east-1';
const RULE = DEFAULT_CONFIRMATION_RULE_NAME;

let test: TestCloud;
let dir: string;
const received: Record<string, unknown>[] = [];
let device: ProvisionedDevice;
/** A client whose policy allows every action on every resource: only the broker's own rules stop it. */
let observer: ClientIdentity & { certificateId: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'basic-ingest-'));
  const cloud = await startLocalCloud({
    regions: [REGION],
    pkiDir: dir,
    dynamo: false,
    deviceKeyAlgorithm: 'ec-p256',
    log: testLogger(),
    functions: [
      ...testFunctions([REGION], { events: [] }),
      { region: REGION, name: 'recorder', handler: (event: unknown) => void received.push(event as Record<string, unknown>) },
    ],
    templates: testTemplates(),
    rules: [{ name: RULE, sql: CONFIRMATION_RULE_SQL, functionName: 'recorder' }],
  });
  test = asTestCloud(cloud, { events: [] }, () => rmSync(dir, { recursive: true, force: true }));
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-ingest-factory');
  device = await provision(claim, TEMPLATE, 'ingest-device');
  claim.end(true);

  const state = cloud.region(REGION).state;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const issued = issueClientCertificate(cloud.pki.deviceCa(REGION), publicKey.export({ type: 'spki', format: 'der' }), new Date(), encodeName({ commonName: 'observer' }));
  state.addCertificate({ certificateId: issued.certificateId, certificatePem: issued.certificatePem, status: 'ACTIVE', certificateMode: 'DEFAULT', caCertificateId: cloud.pki.deviceCa(REGION).certificateId });
  state.putPolicy('Everything', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }));
  state.attachPolicy(issued.certificateId, 'Everything');
  observer = { cert: issued.certificatePem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificateId: issued.certificateId };
});

afterAll(async () => {
  await test?.close();
});

/** Waits until the rule's function has had `count` events. */
async function events(count: number): Promise<Record<string, unknown>[]> {
  await within(
    (async () => {
      while (received.length < count) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    5_000,
    `${count} rule events`,
  );
  return received.slice(0, count);
}

describe('Basic Ingest', () => {
  it('hands a device publish to the rule alone, with the thing and certificate of the connection, whatever the payload says', async () => {
    // Prepare: a subscriber allowed everything, on the rule's own topic and on the Basic Ingest one.
    received.length = 0;
    const watcher = await connectMqtt(test, observer, 'observer-1');
    const heard: string[] = [];
    watcher.on('message', (topic) => heard.push(topic));
    const codes = await subscribeCodes(watcher, [CONFIRMATION_TOPIC, `$aws/rules/${RULE}/#`, '$aws/rules/#']);
    const client = await connectMqtt(test, device, device.thingName);

    // Act
    await client.publishAsync(confirmationTopic(RULE), JSON.stringify({ clientId: 'someone-else', principal: 'f'.repeat(64) }), { qos: 1 });
    const [event] = await events(1);
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assess: Basic Ingest topics cannot be subscribed to, even by a policy that allows it.
    expect(codes).toEqual([1, 128, 128]);
    expect(event).toEqual({ clientId: device.thingName, principal: device.certificateId, receivedAt: expect.any(Number) });
    expect(heard).toEqual([]);
    client.end(true);
    watcher.end(true);
  });

  it('takes an ordinary publish on the rule topic too, which subscribers also get, as AWS does', async () => {
    // Prepare
    received.length = 0;
    const watcher = await connectMqtt(test, observer, 'observer-2');
    await subscribeCodes(watcher, [CONFIRMATION_TOPIC]);
    const heard = new Promise<string>((resolve) => watcher.once('message', (topic: string) => resolve(topic)));

    // Act
    await watcher.publishAsync(CONFIRMATION_TOPIC, '{}', { qos: 1 });
    const [event] = await events(1);

    // Assess
    expect(await within(heard, 5_000, 'the routed message')).toBe(CONFIRMATION_TOPIC);
    expect(event).toMatchObject({ clientId: 'observer-2', principal: observer.certificateId });
    watcher.end(true);
  });

  it('needs iot:Publish on the Basic Ingest topic: the claim certificate is disconnected, and the rule gets nothing', async () => {
    // Prepare
    received.length = 0;
    const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-ingest-forger');
    const gone = closed(claim);

    // Act
    claim.publish(confirmationTopic(RULE), '{}', { qos: 1 });
    await gone;
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assess
    expect(received).toEqual([]);
    claim.end(true);
  });

  it('drops a publish to a rule that does not exist, and keeps the connection', async () => {
    // Prepare
    received.length = 0;
    const client = await connectMqtt(test, observer, 'observer-3');

    // Act
    await client.publishAsync('$aws/rules/NoSuchRule/provisioning/confirm', '{}', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assess
    expect(received).toEqual([]);
    expect(client.connected).toBe(true);
    client.end(true);
  });
});
