import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_POLICY_NAME } from '@global-iot/local/cloud.js';
import { type ClientIdentity, closed, connectMqtt, nextMessage, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { createKeys, type ProvisionedDevice, provision } from './support/provisioning.js';

/**
 * A Last Will is the client's own message, published on its behalf: it gets every check an
 * ordinary PUBLISH gets (iot:Publish, iot:RetainPublish, the reserved and lifecycle topics) and
 * goes the same way (a fleet provisioning answer topic reaches nobody). iot:Connect with the
 * LastWill connect attribute is asked at CONNECT.
 */

const REGION = 'us-east-1';
let test: TestCloud;
let willDevice: ProvisionedDevice;
let observer: ProvisionedDevice;
let marker: ProvisionedDevice;
let noWillDevice: ProvisionedDevice;

function allow(statements: { action: string | string[]; resource: string }[]): string {
  const arn = (resource: string) => `arn:aws:iot:${REGION}:${test.cloud.accountId}:${resource}`;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: statements.map((s) => ({ Effect: 'Allow', Action: s.action, Resource: arn(s.resource) })),
  });
}

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION] });
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-will-factory');
  willDevice = await provision(claim, TEMPLATE, 'will-device');
  observer = await provision(claim, TEMPLATE, 'will-observer');
  marker = await provision(claim, TEMPLATE, 'will-marker');
  noWillDevice = await provision(claim, TEMPLATE, 'no-will-device');
  claim.end(true);
  const state = test.cloud.region(REGION).state;
  // The will's owner may publish (but not retain) on wills/*, and publish on lifecycle topics:
  // only the broker's own rules stand between it and them.
  state.putPolicy('WillOwner', allow([{ action: 'iot:Publish', resource: 'topic/wills/*' }, { action: 'iot:Publish', resource: 'topic/$aws/events/*' }]));
  state.attachPolicy(willDevice.certificateId, 'WillOwner');
  state.putPolicy(
    'WillObserver',
    allow([
      { action: 'iot:Subscribe', resource: 'topicfilter/wills/*' },
      { action: 'iot:Subscribe', resource: 'topicfilter/forbidden/*' },
      { action: 'iot:Subscribe', resource: 'topicfilter/$aws/events/*' },
      { action: 'iot:Receive', resource: 'topic/*' },
    ]),
  );
  state.attachPolicy(observer.certificateId, 'WillObserver');
  state.putPolicy('WillMarker', allow([{ action: 'iot:Publish', resource: 'topic/wills/*' }, { action: 'iot:Publish', resource: 'topic/forbidden/*' }]));
  state.attachPolicy(marker.certificateId, 'WillMarker');
  // This one may connect, but not with a will (AWS's iot:ConnectAttributes condition).
  state.detachPolicy(noWillDevice.certificateId, DEVICE_POLICY_NAME);
  state.putPolicy(
    'NoWill',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: `arn:aws:iot:${REGION}:${test.cloud.accountId}:client/no-will-device`,
          Condition: { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] } },
        },
      ],
    }),
  );
  state.attachPolicy(noWillDevice.certificateId, 'NoWill');
});

afterAll(async () => {
  await test?.close();
});

const claimIdentity = (): ClientIdentity => ({ cert: test.claimCert, key: test.claimKey });

/** Resolves once the broker has ended every connection of `clientId` (and so handled its will). */
async function gone(clientId: string): Promise<void> {
  const broker = test.cloud.region(REGION).dataPlane.broker;
  await within(
    (async () => {
      while (broker.connections().some((c) => c.clientId === clientId)) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    5_000,
    `${clientId} to be disconnected`,
  );
}

/** Connects with a will, then loses the connection the way a crashed device does. */
async function dieWithWill(identity: ClientIdentity, clientId: string, will: { topic: string; payload: string; retain: boolean }): Promise<void> {
  const client = await connectMqtt(test, identity, clientId, { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: will.retain } });
  client.stream.destroy();
  await gone(clientId);
  client.end(true);
}

/** Every message a client receives on `topic`, in order. */
function record(client: MqttClient, topic: string): string[] {
  const seen: string[] = [];
  client.on('message', (received: string, payload: Buffer) => {
    if (received === topic) seen.push(payload.toString('utf8'));
  });
  return seen;
}

describe('a will on a fleet provisioning answer topic', () => {
  const ACCEPTED = '$aws/certificates/create/json/accepted';
  const forged = JSON.stringify({ certificateId: 'forged', certificatePem: 'forged', privateKey: 'forged', certificateOwnershipToken: 'forged' });

  it('reaches neither a device waiting for its answer nor a later subscriber', async () => {
    // Prepare: a device waits for its answer while two forgers die with wills on that topic.
    const waiting = await connectMqtt(test, claimIdentity(), 'prov-waiting-device');
    const waitingSaw = record(waiting, ACCEPTED);
    await waiting.subscribeAsync([ACCEPTED, '$aws/certificates/create/json/rejected'], { qos: 1 });
    await dieWithWill(claimIdentity(), 'prov-forger', { topic: ACCEPTED, payload: forged, retain: false });
    await dieWithWill(claimIdentity(), 'prov-retaining-forger', { topic: ACCEPTED, payload: forged, retain: true });
    const later = await connectMqtt(test, claimIdentity(), 'prov-later-subscriber');
    const laterSaw = record(later, ACCEPTED);

    // Act: each asks for real, after the forgers are gone.
    const waitingAnswer = await createKeys(waiting);
    const laterAnswer = await createKeys(later);

    // Assess: the only message each got on the topic is its own genuine answer.
    expect(waitingAnswer.outcome).toBe('accepted');
    expect(laterAnswer.outcome).toBe('accepted');
    expect(waitingSaw).toHaveLength(1);
    expect(laterSaw).toHaveLength(1);
    expect(JSON.parse(waitingSaw[0] ?? '{}')).toMatchObject({ certificateId: waitingAnswer.body['certificateId'] });
    expect(JSON.parse(laterSaw[0] ?? '{}')).toMatchObject({ certificateId: laterAnswer.body['certificateId'] });
    waiting.end(true);
    later.end(true);
  });

  it('creates nothing when it is a request: its connection is gone, no one could be answered', async () => {
    // Prepare
    const state = test.cloud.region(REGION).state;
    const before = state.snapshot().certificates.length;

    // Act
    await dieWithWill(claimIdentity(), 'prov-request-will', { topic: '$aws/certificates/create/json', payload: '{}', retain: false });

    // Assess
    expect(state.snapshot().certificates).toHaveLength(before);
  });
});

describe('a will that an ordinary PUBLISH could not send', () => {
  it('is not published on a lifecycle topic ($aws/events/), whatever the policy says', async () => {
    // Prepare: the observer waits for the genuine disconnected event of the will's owner.
    const topic = `$aws/events/presence/disconnected/${willDevice.thingName}`;
    const reader = await connectMqtt(test, observer, observer.thingName);
    const first = nextMessage(reader, topic);
    await reader.subscribeAsync(topic, { qos: 1 });

    // Act
    await dieWithWill(willDevice, willDevice.thingName, { topic, payload: '{"eventType":"forged"}', retain: false });

    // Assess: the first message is AWS's event, published after the will would have been.
    expect(JSON.parse((await first).toString('utf8'))).toMatchObject({ eventType: 'disconnected', clientId: willDevice.thingName });
    reader.end(true);
  });

  it.each([
    ['retained without iot:RetainPublish', 'wills/retained', true],
    ['on a topic the policy does not let it publish to', 'forbidden/status', false],
  ])('is not published %s', async (_case, topic, retain) => {
    // Prepare
    const reader = await connectMqtt(test, observer, observer.thingName);
    const seen = record(reader, topic);
    await reader.subscribeAsync(topic, { qos: 1 });
    const publisher = await connectMqtt(test, marker, marker.thingName);

    // Act: the will's owner dies; then a marker goes the same way, and a new subscription asks
    // for whatever is retained.
    await dieWithWill(willDevice, willDevice.thingName, { topic, payload: 'will', retain });
    await publisher.publishAsync(topic, 'marker', { qos: 1 });
    await within(
      (async () => {
        while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5_000,
      'the marker',
    );
    await reader.unsubscribeAsync(topic);
    await reader.subscribeAsync(topic, { qos: 1 });
    await publisher.publishAsync(topic, 'second marker', { qos: 1 });
    await within(
      (async () => {
        while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5_000,
      'the second marker',
    );

    // Assess: only the markers, nothing of the will, live or retained.
    expect(seen).toEqual(['marker', 'second marker']);
    reader.end(true);
    publisher.end(true);
  });
});

describe('the publish rules a will shares', () => {
  it('close the connection of a retained PUBLISH on a reserved topic, even with iot:RetainPublish', async () => {
    // Prepare: the device policy grants iot:RetainPublish on $aws/things/<thing>/*.
    const client = await connectMqtt(test, willDevice, willDevice.thingName);
    const ended = closed(client);

    // Act
    client.publish(`$aws/things/${willDevice.thingName}/shadow/update`, '{}', { qos: 1, retain: true });

    // Assess
    await expect(ended).resolves.toBeUndefined();
    client.end(true);
  });
});

describe('at CONNECT', () => {
  it('refuses a will when iot:Connect does not allow the LastWill connect attribute', async () => {
    // Act
    const withWill = connectMqtt(test, noWillDevice, 'no-will-device', { will: { topic: 'wills/x', payload: Buffer.from('x'), qos: 0, retain: false } });

    // Assess
    await expect(withWill).rejects.toThrow(/not authorized/i);
  });

  it('accepts the same client without a will', async () => {
    // Act
    const client = await connectMqtt(test, noWillDevice, 'no-will-device');

    // Assess
    expect(client.connected).toBe(true);
    client.end(true);
  });
});
