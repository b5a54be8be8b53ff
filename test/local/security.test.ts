import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeName, issueClientCertificate, type CertificateAuthority, createCertificateAuthority } from '@global-iot/local/pki.js';
import {
  closed,
  connectMqtt,
  DENY_TEMPLATE,
  nextMessage,
  startTestCloud,
  subscribeCodes,
  TEMPLATE,
  type TestCloud,
  testFunctions,
  within,
} from './support/cloud.js';
import { createKeys, type ProvisionedDevice, provision, register, request } from './support/provisioning.js';

/**
 * Authorization as AWS IoT applies it: the claim certificate reaches only the claim policy's
 * topics, answers go to the requesting connection alone, ownership tokens are single-use and
 * bound, a device certificate is its own thing and nothing else, and certificates that are not
 * registered and active do not connect.
 */

const REGION = 'us-east-1';
const OTHER_REGION = 'ap-northeast-1';

let test: TestCloud;
const presence: unknown[] = [];
let presenceArrived: (() => void) | undefined;

beforeAll(async () => {
  const hookLog = { events: [] as unknown[] };
  test = await startTestCloud({
    regions: [REGION, OTHER_REGION],
    claimTemplateNames: [TEMPLATE],
    functions: [
      ...testFunctions([REGION, OTHER_REGION], hookLog),
      ...[REGION, OTHER_REGION].map((region) => ({
        region,
        name: 'presence-recorder',
        handler: (event: unknown) => {
          presence.push(event);
          presenceArrived?.();
          return null;
        },
      })),
    ],
    // A rule on the presence events, as an operator might add one (with SELECT *).
    rules: [{ name: 'presence_recorder', sql: "SELECT * FROM '$aws/events/presence/connected/+'", functionName: 'presence-recorder' }],
  });
  test.hookLog = hookLog;
});

afterAll(async () => {
  await test?.close();
});

const claimIdentity = () => ({ cert: test.claimCert, key: test.claimKey });

async function withClaim<T>(clientId: string, work: (client: MqttClient) => Promise<T>, region?: string): Promise<T> {
  const client = await connectMqtt(test, claimIdentity(), `prov-${clientId}`, region ? { region } : {});
  try {
    return await work(client);
  } finally {
    client.end(true);
  }
}

/** A request whose answer proves every message sent to this client before it has arrived. */
async function barrier(client: MqttClient): Promise<void> {
  await request(client, '$aws/certificates/create-from-csr/json', Buffer.from('{}'), 'json');
}

describe('the claim certificate', () => {
  it.each([
    ['#'],
    ['$aws/#'],
    ['$aws/events/#'],
    ['$aws/events/presence/connected/+'],
    [`$aws/provisioning-templates/${DENY_TEMPLATE}/provision/json/accepted`],
    ['$aws/provisioning-templates/+/provision/json/accepted'],
    ['$aws/things/some-device/shadow/update'],
  ])('may not subscribe to %s (SUBACK 0x80)', async (filter) => {
    await withClaim('claim-sub', async (client) => {
      // Act
      const codes = await subscribeCodes(client, [filter]);

      // Assess
      expect(codes).toEqual([0x80]);
    });
  });

  it('may subscribe to the claim policy topics', async () => {
    await withClaim('claim-sub-ok', async (client) => {
      // Act
      const codes = await subscribeCodes(client, [
        '$aws/certificates/create/json/accepted',
        '$aws/certificates/create-from-csr/cbor/rejected',
        `$aws/provisioning-templates/${TEMPLATE}/provision/json/accepted`,
      ]);

      // Assess
      expect(codes).toEqual([1, 1, 1]);
    });
  });

  it('gets the MQTT 5 reason code 0x87 for a refused subscription', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-claim-mqtt5', { protocolVersion: 5 });

    // Act
    const codes = await subscribeCodes(client, ['$aws/events/#', '$aws/certificates/create/json/accepted']);

    // Assess
    expect(codes).toEqual([0x87, 1]);
    client.end(true);
  });

  it('is disconnected when it publishes to another template', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-claim-pub');
    const gone = closed(client);

    // Act
    client.publish(`$aws/provisioning-templates/${DENY_TEMPLATE}/provision/json`, '{}', { qos: 1 });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });

  it('is disconnected when it publishes to a lifecycle topic', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-claim-events');
    const gone = closed(client);

    // Act
    client.publish('$aws/events/presence/connected/someone', '{}', { qos: 1 });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });
});

describe('answers', () => {
  it('go only to the connection that asked, even to clients provisioning at the same time', async () => {
    // Prepare
    const a = await connectMqtt(test, claimIdentity(), 'prov-concurrent-a');
    const b = await connectMqtt(test, claimIdentity(), 'prov-concurrent-b');
    const seen = { a: [] as string[], b: [] as string[] };
    a.on('message', (topic, payload) => seen.a.push(`${topic} ${payload.toString()}`));
    b.on('message', (topic, payload) => seen.b.push(`${topic} ${payload.toString()}`));

    // Act
    const [answerA, answerB] = await Promise.all([createKeys(a), createKeys(b)]);
    const [registeredA, registeredB] = await Promise.all([
      register(a, TEMPLATE, { certificateOwnershipToken: answerA.body['certificateOwnershipToken'], parameters: { ThingName: 'concurrent-a', Ticket: 't' } }),
      register(b, TEMPLATE, { certificateOwnershipToken: answerB.body['certificateOwnershipToken'], parameters: { ThingName: 'concurrent-b', Ticket: 't' } }),
    ]);
    await Promise.all([barrier(a), barrier(b)]);

    // Assess
    expect(registeredA.body['thingName']).toBe('concurrent-a');
    expect(registeredB.body['thingName']).toBe('concurrent-b');
    const created = (messages: string[]) => messages.filter((m) => m.startsWith('$aws/certificates/create/json/accepted'));
    expect(created(seen.a)).toHaveLength(1);
    expect(created(seen.b)).toHaveLength(1);
    expect(created(seen.a)[0]).toContain(String(answerA.body['certificateId']));
    expect(created(seen.b)[0]).toContain(String(answerB.body['certificateId']));
    expect(seen.a.filter((m) => m.includes('/provision/'))).toHaveLength(1);
    expect(seen.b.filter((m) => m.includes('/provision/'))).toHaveLength(1);
    a.end(true);
    b.end(true);
  });

  it('cannot be forged by another client publishing on the answer topic', async () => {
    // Prepare
    const victim = await connectMqtt(test, claimIdentity(), 'prov-victim');
    const forger = await connectMqtt(test, claimIdentity(), 'prov-forger');
    await subscribeCodes(victim, ['$aws/certificates/create/json/accepted']);
    const seen: string[] = [];
    victim.on('message', (topic) => seen.push(topic));

    // Act
    await forger.publishAsync('$aws/certificates/create/json/accepted', JSON.stringify({ certificateOwnershipToken: 'forged' }), { qos: 1 });
    await barrier(victim);

    // Assess
    expect(seen).not.toContain('$aws/certificates/create/json/accepted');
    victim.end(true);
    forger.end(true);
  });
});

describe('ownership tokens', () => {
  it('refuse a client other than the one that created the certificate', async () => {
    // Prepare
    const owner = await connectMqtt(test, claimIdentity(), 'prov-token-owner');
    const thief = await connectMqtt(test, claimIdentity(), 'prov-token-thief');
    const created = await createKeys(owner);
    const body = { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'token-owner', Ticket: 't' } };

    // Act
    const stolen = await register(thief, TEMPLATE, body);
    const own = await register(owner, TEMPLATE, body);

    // Assess
    expect(stolen.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
    expect(own.outcome).toBe('accepted');
    owner.end(true);
    thief.end(true);
  });

  it('refuse a token issued in another region', async () => {
    // Prepare
    const created = await withClaim('token-traveller', (client) => createKeys(client), REGION);

    // Act
    const answer = await withClaim(
      'token-traveller',
      (client) => register(client, TEMPLATE, { certificateOwnershipToken: created.body['certificateOwnershipToken'], parameters: { ThingName: 'traveller', Ticket: 't' } }),
      OTHER_REGION,
    );

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
  });
});

describe('device certificates', () => {
  let deviceA: ProvisionedDevice;
  let deviceB: ProvisionedDevice;

  beforeAll(async () => {
    await withClaim('device-factory', async (claim) => {
      deviceA = await provision(claim, TEMPLATE, 'device-a');
      deviceB = await provision(claim, TEMPLATE, 'device-b');
    });
  });

  it("cannot take another thing's client id", async () => {
    // Act
    const attempt = connectMqtt(test, deviceA, deviceB.thingName);

    // Assess
    await expect(attempt).rejects.toThrow(/Not authorized/i);
  });

  it("cannot be pushed off by the claim certificate connecting under its thing's name, in any region", async () => {
    // Prepare: the device is online; whoever extracted the fleet's claim key tries to take its client id.
    const online = await connectMqtt(test, deviceA, deviceA.thingName);
    let dropped = false;
    online.once('close', () => {
      dropped = true;
    });

    // Act
    const here = connectMqtt(test, claimIdentity(), deviceA.thingName);
    const there = connectMqtt(test, claimIdentity(), deviceA.thingName, { region: OTHER_REGION });
    const results = await Promise.allSettled([here, there]);
    // A round trip on the device's connection after both attempts: a drop would have come first.
    const codes = await subscribeCodes(online, [`things/${deviceA.thingName}/commands`]);

    // Assess: both refused at CONNECT (the claim policy allows only client/prov-*), and the device was never dropped.
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'connected'))).toEqual([
      expect.stringMatching(/Not authorized/i),
      expect.stringMatching(/Not authorized/i),
    ]);
    expect(codes).toEqual([1]);
    expect(dropped).toBe(false);
    expect(online.connected).toBe(true);
    online.end(true);
  });

  it('cannot connect in a region where it is not registered', async () => {
    // Act
    const attempt = connectMqtt(test, deviceA, deviceA.thingName, { region: OTHER_REGION });

    // Assess
    await expect(attempt).rejects.toThrow();
  });

  it("reach their own topics and not another thing's", async () => {
    // Prepare
    const client = await connectMqtt(test, deviceA, deviceA.thingName);

    // Act
    const codes = await subscribeCodes(client, ['things/device-a/#', '$aws/things/device-a/shadow/#', 'things/device-b/#', 'things/+/telemetry']);
    const echoed = nextMessage(client, 'things/device-a/telemetry');
    await client.publishAsync('things/device-a/telemetry', 'hello', { qos: 1 });

    // Assess
    expect(codes).toEqual([1, 1, 0x80, 0x80]);
    expect((await echoed).toString()).toBe('hello');
    client.end(true);
  });

  it("are disconnected when they publish to another thing's topic", async () => {
    // Prepare
    const client = await connectMqtt(test, deviceA, deviceA.thingName);
    const gone = closed(client);

    // Act
    client.publish('things/device-b/telemetry', 'spoofed', { qos: 1 });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });

  it('take over the connection of an earlier client with the same client id', async () => {
    // Prepare
    const first = await connectMqtt(test, deviceB, deviceB.thingName);
    const firstGone = closed(first);

    // Act
    const second = await connectMqtt(test, deviceB, deviceB.thingName);

    // Assess
    await expect(firstGone).resolves.toBeUndefined();
    expect(second.connected).toBe(true);
    first.end(true);
    second.end(true);
  });

  it('raise a presence event that a rule on the presence topic receives', async () => {
    // Prepare
    const arrived = new Promise<void>((resolve) => {
      presenceArrived = resolve;
    });
    presence.length = 0;

    // Act
    const client = await connectMqtt(test, deviceB, deviceB.thingName);
    await within(arrived, 8_000, 'the presence event');

    // Assess
    expect(presence).toContainEqual(
      expect.objectContaining({
        clientId: 'device-b',
        eventType: 'connected',
        principalIdentifier: deviceB.certificateId,
        ipAddress: '127.0.0.1',
        sessionIdentifier: expect.any(String),
        timestamp: expect.any(Number),
        versionNumber: expect.any(Number),
      }),
    );
    client.end(true);
  });

  it('lose their connection when deactivated, and cannot come back until active again', async () => {
    // Prepare
    const device = await withClaim('deactivation-factory', (claim) => provision(claim, TEMPLATE, 'device-c'));
    const client = await connectMqtt(test, device, device.thingName);
    const gone = closed(client);
    const state = test.cloud.region(REGION).state;

    // Act
    state.setCertificateStatus(device.certificateId, 'INACTIVE');
    await gone;
    const whileInactive = connectMqtt(test, device, device.thingName);
    await expect(whileInactive).rejects.toThrow(/Not authorized/i);
    state.setCertificateStatus(device.certificateId, 'REVOKED');
    const whileRevoked = connectMqtt(test, device, device.thingName);

    // Assess
    await expect(whileRevoked).rejects.toThrow(/Not authorized/i);
    client.end(true);
  });
});

describe('unknown certificates', () => {
  function certificateFrom(ca: CertificateAuthority) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const issued = issueClientCertificate(ca, publicKey.export({ type: 'spki', format: 'der' }), new Date(), encodeName({ commonName: 'stranger' }));
    return { cert: issued.certificatePem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  }

  it('cannot connect when issued by a CA the region does not know', async () => {
    // Prepare
    const stranger = certificateFrom(createCertificateAuthority({ commonName: 'Some other CA' }, new Date()));

    // Act
    const attempt = connectMqtt(test, stranger, 'stranger');

    // Assess
    await expect(attempt).rejects.toThrow(/Not authorized/i);
  });

  it('cannot connect when issued by the region CA but never registered', async () => {
    // Prepare
    const unregistered = certificateFrom(test.cloud.pki.deviceCa(REGION));

    // Act
    const attempt = connectMqtt(test, unregistered, 'unregistered');

    // Assess
    await expect(attempt).rejects.toThrow(/Not authorized/i);
  });
});
