import { connect as tlsConnect } from 'node:tls';
import { encode as encodeCbor } from 'cborg';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEMPLATE_NAME } from '@global-iot/local/cloud.js';
import { auditSystem, expectCleanEnd, settleConfirmations } from './support/audit.js';
import { type ReliabilityCloud, startAuditedCloud } from './support/cloud.js';
import { connectMqtt, type DeviceEnvironment, runDevice } from './support/device.js';
import { call } from './support/http.js';
import type { LogAudit } from './support/log-audit.js';
import { type Outcome, publishAndWait, subscribeEach } from './support/mqtt-probe.js';
import { reliabilityScale } from './support/scale.js';
import { confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';

/**
 * Hostile input on MQTT, over mutual TLS with the fleet's claim certificate (which every device
 * carries, so every attacker has it): garbage, huge and wrongly formatted payloads on the fleet
 * provisioning topics, garbage MQTT packets, and a claim-certificate holder snooping on other
 * devices, forging their answers, presence and confirmations, and taking over their client ids. Nothing may
 * crash, nothing may be provisioned, and nobody may see another device's answers.
 */

const scale = reliabilityScale();
const REGION = 'us-east-1';
/** Where a device confirms its provisioning (Basic Ingest). */
const CONFIRMATION = confirmationTopic(DEFAULT_CONFIRMATION_RULE_NAME);
const MAX_PAYLOAD = 128 * 1024;
let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let closeCloud: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ audit, rc, env, close: closeCloud } = await startAuditedCloud({ demo: false, regions: [REGION, 'eu-central-1'] }));
  await rc.enroll(['victim-0', 'victim-1', 'victim-2', 'victim-3', 'forger-device-0', 'after-mqtt-fuzz-0']);
});

afterAll(async () => {
  await closeCloud?.();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function claimClient(clientId: string, region = REGION): Promise<MqttClient> {
  const outcome = await connectMqtt(env, region, rc.claim, `prov-${clientId}`);
  if (outcome.kind !== 'connected') throw new Error(`the claim certificate could not connect: ${JSON.stringify(outcome)}`);
  return outcome.client;
}

const OPERATIONS = ['create', 'create-from-csr', 'provision'] as const;
const topicOf = (operation: (typeof OPERATIONS)[number], format: 'json' | 'cbor') =>
  operation === 'provision' ? `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/${format}` : `$aws/certificates/${operation}/${format}`;

describe('garbage on the fleet provisioning topics', () => {
  it('is rejected (or the connection closed), never accepted where it matters, never an internal failure', { timeout: 120_000 }, async () => {
    // Prepare
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
      fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(encodeCbor(value))),
      fc
        .record({ certificateOwnershipToken: fc.anything(), parameters: fc.anything(), certificateSigningRequest: fc.anything() }, { requiredKeys: [] })
        .map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
      fc.constantFrom(
        Buffer.alloc(0),
        Buffer.from(JSON.stringify({ certificateSigningRequest: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----' })),
        Buffer.from(JSON.stringify({ certificateOwnershipToken: 'A'.repeat(64), parameters: { ThingName: 'victim-0', Ticket: 't1.x.y' } })),
        Buffer.from(JSON.stringify({ certificateOwnershipToken: 'x', parameters: { ThingName: 'victim-0', Ticket: 'x'.repeat(MAX_PAYLOAD - 200) } })),
        Buffer.alloc(MAX_PAYLOAD + 1, 0x7b),
      ),
    );
    const request = fc.record({ operation: fc.constantFrom(...OPERATIONS), format: fc.constantFrom('json' as const, 'cbor' as const), payload });
    const answerTopics = OPERATIONS.flatMap((o) => (['json', 'cbor'] as const).flatMap((f) => [`${topicOf(o, f)}/accepted`, `${topicOf(o, f)}/rejected`]));
    let client = await claimClient('fuzzer-0');
    await client.subscribeAsync(answerTopics);
    const outcomes: { operation: string; outcome: Outcome; size: number }[] = [];

    // Act
    await fc.assert(
      fc.asyncProperty(request, async ({ operation, format, payload: bytes }) => {
        if (!client.connected) {
          client = await claimClient('fuzzer-0');
          await client.subscribeAsync(answerTopics);
        }
        outcomes.push({ operation, outcome: await publishAndWait(client, topicOf(operation, format), bytes), size: bytes.length });
      }),
      { numRuns: scale.fuzzRuns * 2 },
    );
    client.end(true);
    const state = await auditSystem(rc);

    // Assess
    for (const { operation, outcome, size } of outcomes) {
      if (size > MAX_PAYLOAD) expect(outcome.kind).toBe('closed');
      else expect(outcome.kind).not.toBe('closed');
      // CreateKeysAndCertificate takes any JSON object (AWS ignores fields it does not know); nothing else may pass.
      if (operation !== 'create') expect(outcome.kind).not.toBe('accepted');
      if (outcome.kind === 'rejected' && Object.keys(outcome.body).length > 0) expect(outcome.body['statusCode']).not.toBe(500);
    }
    expect(outcomes.some((o) => o.outcome.kind === 'rejected')).toBe(true);
    expect(state.problems).toEqual([]);
    expect(rc.cloud.region(REGION).state.listThings()).toEqual([]);
  });

  it('publishes to answer topics and unknown formats reach nobody, and leave the publisher connected', { timeout: 60_000 }, async () => {
    // Prepare
    const client = await claimClient('fuzzer-1');
    const listener = await claimClient('listener-1');
    await listener.subscribeAsync(['$aws/certificates/create/json/accepted', `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/json/accepted`]);
    const heard: string[] = [];
    listener.on('message', (topic) => heard.push(topic));
    await client.subscribeAsync(['$aws/certificates/create/json/accepted', '$aws/certificates/create/json/rejected']);

    // Act
    for (const topic of ['$aws/certificates/create/json/accepted', '$aws/certificates/create/xml', `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/json/accepted`, '$aws/certificates/create-from-csr/json/rejected']) {
      await client.publishAsync(topic, Buffer.from('{"certificateId":"forged"}'), { qos: 1 });
    }
    // The listener's own request: its answer, on the same connection, comes after anything routed earlier.
    await listener.subscribeAsync(['$aws/certificates/create/json/rejected']);
    const own = await publishAndWait(listener, '$aws/certificates/create/json', Buffer.from('{}'));
    const stillConnected = client.connected;
    client.end(true);
    listener.end(true);

    // Assess
    expect(own.kind).toBe('accepted');
    expect(heard).toEqual(['$aws/certificates/create/json/accepted']);
    expect(stillConnected).toBe(true);
  });
});

describe('garbage MQTT packets', () => {
  const endpoint = () => rc.cloud.region(REGION).endpoint;
  const mqttConnect = (clientId: string) => {
    const id = Buffer.from(clientId);
    const variable = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 60]), Buffer.from([0, id.length]), id]);
    return Buffer.concat([Buffer.from([0x10, variable.length]), variable]);
  };
  const PINGREQ = Buffer.from([0xc0, 0x00]);

  /** Sends bytes on a claim-certificate connection; resolves 'closed', or 'alive' once a PINGRESP shows the connection still serves. */
  function send(bytes: Buffer, probe: boolean): Promise<'closed' | 'alive'> {
    return new Promise((resolve, reject) => {
      const target = endpoint();
      const socket = tlsConnect({ host: target.address, port: target.port, servername: target.host, ca: rc.rootCa, cert: rc.claim.cert, key: rc.claim.key });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the broker neither closed the connection nor answered PINGREQ within 15 s'));
      }, 15_000);
      let received = Buffer.alloc(0);
      socket.once('secureConnect', () => socket.write(probe ? Buffer.concat([bytes, PINGREQ]) : bytes));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        // CONNACK (4 bytes) then PINGRESP (0xd0 0x00) at the end of what arrived.
        if (probe && received.length >= 6 && received.subarray(-2).equals(Buffer.from([0xd0, 0x00]))) {
          clearTimeout(timer);
          socket.destroy();
          resolve('alive');
        }
      });
      socket.on('error', () => undefined);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
    });
  }

  it('that break the protocol close the connection', { timeout: 60_000 }, async () => {
    // Prepare
    const cases: Buffer[] = [
      // Not MQTT at all: an HTTP request, long enough to be read as a (non-CONNECT) first packet.
      Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${'X-Pad: y\r\n'.repeat(20)}\r\n`),
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      Buffer.concat([mqttConnect('garbage-1'), Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])]),
      Buffer.concat([mqttConnect('garbage-2'), mqttConnect('garbage-2')]),
      Buffer.concat([mqttConnect('garbage-3'), Buffer.from([0x34, 0x08, 0x00, 0x01, 0x61, 0x00, 0x01, 0x78, 0x79, 0x7a])]),
      Buffer.concat([mqttConnect('garbage-4'), Buffer.from([0xf0, 0x00])]),
      Buffer.concat([mqttConnect('garbage-5'), Buffer.from([0x82, 0x05, 0x00, 0x00, 0x00, 0x01, 0x23])]),
      Buffer.concat([mqttConnect('garbage-6'), Buffer.from([0x30, 0x05, 0x00, 0x03, 0x24, 0x61, 0x23])]),
    ];

    // Act
    const outcomes = await Promise.all(cases.map((bytes) => send(bytes, false)));

    // Assess
    expect(outcomes).toEqual(cases.map(() => 'closed'));
  });

  it('random whole packets after CONNECT either close the connection or leave it serving, and the broker serves everyone', { timeout: 120_000 }, async () => {
    // Prepare
    const packet = fc
      .record({ type: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 100 }) })
      .map(({ type, body }) => Buffer.concat([Buffer.from([type, body.length]), Buffer.from(body)]));
    const outcomes: string[] = [];

    // Act
    await fc.assert(
      fc.asyncProperty(packet, async (bytes) => {
        outcomes.push(await send(Buffer.concat([mqttConnect(`garbage-r${outcomes.length}`), bytes]), true));
      }),
      { numRuns: scale.fuzzRuns },
    );
    const afterwards = await runDevice(env, { thingName: 'after-mqtt-fuzz-0', certificateMode: 'csr' });

    // Assess
    expect(outcomes).toHaveLength(scale.fuzzRuns);
    expect(outcomes).toContain('closed');
    expect(afterwards.ok).toBe(true);
  });
});

/** Bootstraps and runs fleet provisioning up to an accepted RegisterThing, without connecting with the new certificate. */
async function registerWithoutConnecting(thingName: string): Promise<{ certificateId: string; cert: string; key: string; region: string }> {
  const answer = await call(`${rc.cloud.bootstrapUrl ?? ''}/bootstrap`, {
    ca: rc.rootCa,
    body: JSON.stringify(signedBootstrapRequest(rc.fleetKey, thingName, Date.now())),
    headers: { 'content-type': 'application/json' },
  });
  const { region, ticket, templateName } = answer.json as { region: string; ticket: string; templateName: string };
  audit.watch(ticket);
  const client = await claimClient(thingName, region);
  await client.subscribeAsync(['$aws/certificates/create/json/+', `$aws/provisioning-templates/${templateName}/provision/json/+`]);
  const created = await publishAndWait(client, '$aws/certificates/create/json', Buffer.from('{}'));
  if (created.kind !== 'accepted') throw new Error('CreateKeysAndCertificate failed');
  const body = created.body as { certificateId: string; certificatePem: string; privateKey: string; certificateOwnershipToken: string };
  const registered = await publishAndWait(
    client,
    `$aws/provisioning-templates/${templateName}/provision/json`,
    Buffer.from(JSON.stringify({ certificateOwnershipToken: body.certificateOwnershipToken, parameters: { ThingName: thingName, Ticket: ticket } })),
  );
  client.end(true);
  if (registered.kind !== 'accepted') throw new Error(`RegisterThing failed: ${JSON.stringify(registered)}`);
  return { certificateId: body.certificateId, cert: body.certificatePem, key: body.privateKey, region };
}

describe('a claim-certificate holder snooping on other devices', () => {
  it('is refused the wildcards and other things\' topics, and hears no other device\'s answers', { timeout: 60_000 }, async () => {
    // Prepare
    const snooper = await claimClient('snooper-0');
    const heard: string[] = [];
    snooper.on('message', (topic) => heard.push(topic));
    const granted = await subscribeEach(snooper, [
      '#',
      '$aws/#',
      '$aws/events/#',
      '$aws/things/victim-0/#',
      'things/victim-0/#',
      '$aws/certificates/create/json/accepted',
      '$aws/certificates/create-from-csr/json/accepted',
      `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/json/accepted`,
    ]);

    // Act
    const victim = await runDevice(env, { thingName: 'victim-0', certificateMode: 'keys' });
    const own = await publishAndWait(snooper, '$aws/certificates/create/json', Buffer.from('{}'));
    snooper.end(true);

    // Assess
    expect(granted).toEqual([128, 128, 128, 128, 128, 1, 1, 1]);
    expect(victim.ok).toBe(true);
    expect(own.kind).toBe('accepted');
    // Only the snooper's own answer reached it.
    expect(heard).toEqual(['$aws/certificates/create/json/accepted']);
  });

  it("cannot see a device's answers by taking over its client id, and the device still provisions once", { timeout: 120_000 }, async () => {
    // Prepare
    const heard: string[] = [];
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        // The claim session's client id the device uses: the one a claim holder can take.
        const outcome = await connectMqtt(env, REGION, rc.claim, 'prov-victim-1');
        if (outcome.kind === 'connected') {
          outcome.client.on('message', (topic) => heard.push(topic));
          await outcome.client.subscribeAsync(['$aws/certificates/create/json/accepted', '$aws/certificates/create-from-csr/json/accepted', `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/json/accepted`]).catch(() => undefined);
          await sleep(150);
          outcome.client.end(true);
        }
        await sleep(150);
      }
    })();

    // Act
    const victim = runDevice(env, { thingName: 'victim-1', certificateMode: 'csr' });
    await sleep(3_000);
    stop = true;
    await churn;
    const result = await victim;
    await settleConfirmations(rc);
    const record = await rc.registry.get('victim-1');

    // Assess
    expect(heard).toEqual([]);
    expect(result.ok).toBe(true);
    expect(record).toMatchObject({ prov_status: 'provisioned', certificate_id: result.certificateId, provision_attempts: 1 });
  });

  it('cannot confirm a device it is not: neither a claim holder, nor another device naming it, nor a forged presence event', { timeout: 60_000 }, async () => {
    // Prepare
    const registered = await registerWithoutConnecting('victim-2');
    const other = await runDevice(env, { thingName: 'forger-device-0', certificateMode: 'keys', keepCredentials: true });
    const forger = await claimClient('forger-0', registered.region);
    const presence = { clientId: 'victim-2', eventType: 'connected', principalIdentifier: registered.certificateId, timestamp: Date.now(), versionNumber: 0 };
    const naming = Buffer.from(JSON.stringify({ clientId: 'victim-2', principal: registered.certificateId }));

    // Act
    const forgedPresence = await publishAndWait(forger, '$aws/events/presence/connected/victim-2', Buffer.from(JSON.stringify(presence)));
    const claimOnRule = await claimClient('forger-1', registered.region);
    const claimPublish = await publishAndWait(claimOnRule, CONFIRMATION, naming);
    const otherDevice = await connectMqtt(env, other.region ?? REGION, other.credentials ?? { cert: '', key: '' }, 'forger-device-0');
    if (otherDevice.kind === 'connected') await otherDevice.client.publishAsync(CONFIRMATION, naming, { qos: 1 });
    const device = await connectMqtt(env, registered.region, registered, 'victim-2');
    await sleep(500);
    const afterForgeries = await rc.registry.get('victim-2');
    if (device.kind === 'connected') await device.client.publishAsync(CONFIRMATION, Buffer.from('{}'), { qos: 1 });
    const settled = await settleConfirmations(rc);
    const afterConfirming = await rc.registry.get('victim-2');
    if (device.kind === 'connected') await device.client.endAsync();
    if (otherDevice.kind === 'connected') await otherDevice.client.endAsync();

    // Assess: the claim is closed at either publish; the other device confirmed only itself (it
    // already was); connecting alone confirms nothing; the victim's own publish does.
    expect(forgedPresence.kind).toBe('closed');
    expect(claimPublish.kind).toBe('closed');
    expect(other.ok).toBe(true);
    expect(otherDevice.kind).toBe('connected');
    expect(device.kind).toBe('connected');
    expect(afterForgeries?.prov_status).toBe('provisioning');
    expect(settled.awaitingConfirmation).toBe(0);
    expect(afterConfirming).toMatchObject({ prov_status: 'provisioned', certificate_id: registered.certificateId });
  });

  it("a provisioned device's certificate reaches its own thing only", { timeout: 60_000 }, async () => {
    // Prepare
    const device = await runDevice(env, { thingName: 'victim-3', certificateMode: 'keys', keepCredentials: true });
    const credentials = device.credentials ?? { cert: '', key: '' };

    // Act
    const asOther = await connectMqtt(env, device.region ?? REGION, credentials, 'victim-0');
    const asItself = await connectMqtt(env, device.region ?? REGION, credentials, 'victim-3');
    const client = asItself.kind === 'connected' ? asItself.client : undefined;
    const granted = client ? await subscribeEach(client, ['$aws/things/victim-0/shadow/#', 'things/victim-0/#', '$aws/things/victim-3/shadow/#']) : [];
    const published = client ? await publishAndWait(client, 'things/victim-0/commands', Buffer.from('{}')) : undefined;
    const inOtherRegion = await connectMqtt(env, 'eu-central-1', credentials, 'victim-3');

    // Assess
    expect(device.ok).toBe(true);
    expect(asOther).toMatchObject({ kind: 'refused', code: 5 });
    expect(granted).toEqual([128, 128, 1]);
    expect(published).toEqual({ kind: 'closed' });
    expect(inOtherRegion.kind).toBe('refused');
  });
});

describe('after all of it', () => {
  it('nothing crashed, nothing was half-provisioned, and no log line holds a secret', async () => {
    await expectCleanEnd(rc, audit);
  });
});
