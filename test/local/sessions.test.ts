import type { IPublishPacket, Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidBrokerSettings } from '@global-iot/local/mqtt/broker.js';
import { resolveBrokerSettings } from '@global-iot/local/mqtt/settings.js';
import { connectMqtt, connectMqttWithAck, type Received, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { type ProvisionedDevice, provision } from './support/provisioning.js';
import { rawConnect, type RawClient } from './support/raw-mqtt.js';

/**
 * Persistent sessions as AWS IoT keeps them, with mqtt.js and a raw client: MQTT 3.1.1's clean
 * session 0 and MQTT 5's session expiry, the session present flag, subscriptions kept, QoS 1
 * messages kept while the client is away and sent again (DUP) when unacknowledged, within the
 * limits (expiry, queue, in flight, delivery rate); and fleet provisioning answers that follow
 * the PUBACK of their request. The limits are set low here so that they show in seconds; their
 * defaults are AWS's.
 */

const REGION = 'us-east-1';
const SETTINGS = {
  maxSessionExpirySeconds: 2,
  storedMessagesPerSecond: 5,
  maxQueuedMessagesPerSession: 8,
  maxInflightMessages: 3,
  queuedMessagesPerSecond: 12,
};
const NAMES = ['kept', 'dup', 'clean', 'expiry', 'queue', 'rate-y', 'rate-z', 'inflight', 'v5', 'v5-zero'] as const;
type Name = (typeof NAMES)[number];

let test: TestCloud;
const devices = new Map<Name, ProvisionedDevice>();

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION], brokerSettings: SETTINGS });
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-session-factory');
  for (const name of NAMES) devices.set(name, await provision(claim, TEMPLATE, `session-${name}`));
  claim.end(true);
});

afterAll(async () => {
  await test?.close();
});

function device(name: Name): ProvisionedDevice {
  const found = devices.get(name);
  if (!found) throw new Error(`no device ${name}`);
  return found;
}

const commands = (name: Name) => `things/${device(name).thingName}/cmd`;

/** Publishes as the broker routes any client's message (the device policy lets no one else in). */
function inject(name: Name, payloads: readonly string[], qos: 0 | 1 = 1): void {
  for (const payload of payloads) test.cloud.region(REGION).dataPlane.broker.publish(commands(name), Buffer.from(payload), { qos });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gone(clientId: string): Promise<void> {
  const broker = test.cloud.region(REGION).dataPlane.broker;
  await within(
    (async () => {
      while (broker.connections().some((c) => c.clientId === clientId)) await sleep(10);
    })(),
    5_000,
    `${clientId} to be disconnected`,
  );
}

async function until(received: readonly Received[], count: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (received.length < count) await sleep(10);
    })(),
    8_000,
    what,
  );
}

/** Connects with a persistent session, subscribes to its commands, and leaves (DISCONNECT). */
async function subscribeAndLeave(name: Name, options: Parameters<typeof connectMqttWithAck>[3] = { clean: false }) {
  const { client, connack } = await connectMqttWithAck(test, device(name), device(name).thingName, options);
  await client.subscribeAsync(commands(name), { qos: 1 });
  await client.endAsync();
  await gone(device(name).thingName);
  return connack;
}

const payloads = (received: readonly Received[]) => received.map((r) => r.payload);

describe('MQTT 3.1.1, clean session 0', () => {
  it('keeps the subscriptions and the QoS 1 messages of a client that is away, and CONNACK says the session is there', async () => {
    // Prepare
    const first = await subscribeAndLeave('kept');
    inject('kept', ['m1', 'm2', 'm3']);
    inject('kept', ['not kept: QoS 0'], 0);

    // Act
    const { client, connack, received } = await connectMqttWithAck(test, device('kept'), device('kept').thingName, { clean: false });
    await until(received, 3, 'the kept messages');
    inject('kept', ['live']);
    await until(received, 4, 'a message to the kept subscription');

    // Assess
    expect(first.sessionPresent).toBe(false);
    expect(connack.sessionPresent).toBe(true);
    expect(payloads(received)).toEqual(['m1', 'm2', 'm3', 'live']);
    client.end(true);
  });

  it('sends an unacknowledged QoS 1 message again, with DUP and its packet id, when the session resumes', async () => {
    // Prepare: a client that takes the message and is lost before acknowledging it.
    const clientId = device('dup').thingName;
    const connect = { protocolVersion: 4, clientId, clean: false, keepalive: 60 } as const;
    const lost = await rawConnect(test, device('dup'), connect);
    lost.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: commands('dup'), qos: 1 }] });
    await lost.next((p) => p.cmd === 'suback', 'SUBACK');
    inject('dup', ['unacknowledged']);
    const original = (await lost.next((p) => p.cmd === 'publish', 'the message')) as IPublishPacket;
    lost.destroy();
    await gone(clientId);

    // Act
    const back = await rawConnect(test, device('dup'), connect);
    const again = (await back.next((p) => p.cmd === 'publish', 'the message again')) as IPublishPacket;
    back.send({ cmd: 'puback', messageId: again.messageId ?? 0 });
    await sleep(50);
    back.destroy();
    await gone(clientId);
    const third = await rawConnect(test, device('dup'), connect);
    inject('dup', ['next']);
    const next = (await third.next((p) => p.cmd === 'publish', 'the next message')) as IPublishPacket;

    // Assess
    expect(original.dup).toBe(false);
    expect(back.packets[0]).toMatchObject({ cmd: 'connack', sessionPresent: true });
    expect(again).toMatchObject({ dup: true, qos: 1, messageId: original.messageId, topic: commands('dup') });
    expect(again.payload.toString()).toBe('unacknowledged');
    expect(next.payload.toString()).toBe('next');
    third.destroy();
  });

  it('ends the session when the client connects with a clean session: nothing kept, no subscription', async () => {
    // Prepare
    await subscribeAndLeave('clean');
    inject('clean', ['dropped with the session']);

    // Act
    const { client, connack, received } = await connectMqttWithAck(test, device('clean'), device('clean').thingName, { clean: true });
    await client.subscribeAsync(commands('clean'), { qos: 1 });
    inject('clean', ['marker']);
    await until(received, 1, 'the marker');

    // Assess
    expect(connack.sessionPresent).toBe(false);
    expect(payloads(received)).toEqual(['marker']);
    client.end(true);
  });

  it('lets the session expire maxSessionExpirySeconds after the client left (here 2 s; AWS: 1 hour)', async () => {
    // Prepare
    await subscribeAndLeave('expiry');

    // Act
    await sleep(SETTINGS.maxSessionExpirySeconds * 1000 + 500);
    const { client, connack } = await connectMqttWithAck(test, device('expiry'), device('expiry').thingName, { clean: false });

    // Assess
    expect(connack.sessionPresent).toBe(false);
    client.end(true);
  });
});

describe('limits of a kept session', () => {
  it('keeps at most maxQueuedMessagesPerSession (8 here), and sends them at most storedMessagesPerSecond (5 here; AWS: 10)', async () => {
    // Prepare
    await subscribeAndLeave('queue');
    inject('queue', Array.from({ length: 10 }, (_, i) => `m${i}`));

    // Act
    const { client, received } = await connectMqttWithAck(test, device('queue'), device('queue').thingName, { clean: false });
    await until(received, 8, 'the kept messages');
    await sleep(1_300);

    // Assess: the first eight, the last two dropped; five may go at once, the other three take
    // at least 3/5 of a second more.
    expect(payloads(received)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    const [first, last] = [received[0]?.at ?? 0, received[7]?.at ?? 0];
    expect(last - first).toBeGreaterThanOrEqual(550);
    client.end(true);
  });

  it('queues at most queuedMessagesPerSecond (12 here; AWS: 500 per account) across sessions, and drops the rest', async () => {
    // Prepare: two sessions away; a second for the quota to refill.
    await subscribeAndLeave('rate-y');
    await subscribeAndLeave('rate-z');
    await sleep(1_100);

    // Act: 16 messages in the same instant, alternating between the two.
    for (let i = 0; i < 8; i++) {
      inject('rate-y', [`y${i}`]);
      inject('rate-z', [`z${i}`]);
    }
    const y = await connectMqttWithAck(test, device('rate-y'), device('rate-y').thingName, { clean: false });
    const z = await connectMqttWithAck(test, device('rate-z'), device('rate-z').thingName, { clean: false });
    await until(y.received, 6, 'y');
    await until(z.received, 6, 'z');
    await sleep(1_300);

    // Assess
    expect(payloads(y.received)).toEqual(['y0', 'y1', 'y2', 'y3', 'y4', 'y5']);
    expect(payloads(z.received)).toEqual(['z0', 'z1', 'z2', 'z3', 'z4', 'z5']);
    y.client.end(true);
    z.client.end(true);
  });

  it('has at most maxInflightMessages unacknowledged (3 here; AWS: 100); the rest follow the acknowledgements', async () => {
    // Prepare
    const clientId = device('inflight').thingName;
    const raw: RawClient = await rawConnect(test, device('inflight'), { protocolVersion: 4, clientId, clean: false, keepalive: 60 });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: commands('inflight'), qos: 1 }] });
    await raw.next((p) => p.cmd === 'suback', 'SUBACK');
    const publishes = () => raw.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');

    // Act
    inject('inflight', ['a', 'b', 'c', 'd', 'e']);
    await raw.next((p) => p.cmd === 'publish' && p.payload.toString() === 'c', 'three messages');
    await sleep(1_200);
    const unacknowledged = publishes().length;
    for (const p of publishes()) raw.send({ cmd: 'puback', messageId: p.messageId ?? 0 });
    await raw.next((p) => p.cmd === 'publish' && p.payload.toString() === 'e', 'the rest');

    // Assess
    expect(unacknowledged).toBe(3);
    expect(publishes().map((p) => p.payload.toString())).toEqual(['a', 'b', 'c', 'd', 'e']);
    raw.destroy();
  });
});

describe('MQTT 5 session expiry', () => {
  it('resumes a session within its interval; an interval over the maximum is cut, and CONNACK says to what', async () => {
    // Prepare
    const options = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } };
    const first = await subscribeAndLeave('v5', options);
    inject('v5', ['kept for MQTT 5']);

    // Act
    const { client, connack, received } = await connectMqttWithAck(test, device('v5'), device('v5').thingName, options);
    await until(received, 1, 'the kept message');

    // Assess
    expect(first).toMatchObject({ sessionPresent: false, properties: { sessionExpiryInterval: SETTINGS.maxSessionExpirySeconds } });
    expect(connack.sessionPresent).toBe(true);
    expect(payloads(received)).toEqual(['kept for MQTT 5']);
    client.end(true);
  });

  it('ends a session with a zero interval (the default) with its connection', async () => {
    // Prepare
    await subscribeAndLeave('v5-zero', { protocolVersion: 5, clean: false });

    // Act
    const { client, connack } = await connectMqttWithAck(test, device('v5-zero'), device('v5-zero').thingName, { protocolVersion: 5, clean: false });

    // Assess
    expect(connack.sessionPresent).toBe(false);
    client.end(true);
  });
});

describe('fleet provisioning answers', () => {
  it.each([
    ['CreateKeysAndCertificate', '$aws/certificates/create/json', '{}'],
    ['CreateCertificateFromCsr', '$aws/certificates/create-from-csr/json', '{}'],
    ['RegisterThing', `$aws/provisioning-templates/${TEMPLATE}/provision/json`, '{}'],
  ])('%s: the answer follows the PUBACK of its QoS 1 request, as AWS acknowledges first', async (_name, topic, body) => {
    // Prepare
    const raw = await rawConnect(test, { cert: test.claimCert, key: test.claimKey }, { protocolVersion: 4, clientId: `prov-puback-${topic.length}`, clean: true, keepalive: 60 });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${topic}/accepted`, qos: 1 }, { topic: `${topic}/rejected`, qos: 1 }] });
    await raw.next((p) => p.cmd === 'suback', 'SUBACK');

    // Act
    raw.send({ cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, dup: false, retain: false, messageId: 7 });
    const answer = await raw.next((p) => p.cmd === 'publish' && p.topic.startsWith(`${topic}/`), 'the answer');

    // Assess
    const isPuback = (p: Packet) => p.cmd === 'puback' && p.messageId === 7;
    expect(raw.packets.findIndex(isPuback)).toBeGreaterThan(-1);
    expect(raw.packets.findIndex(isPuback)).toBeLessThan(raw.packets.indexOf(answer));
    raw.destroy();
  });
});

describe('broker settings', () => {
  it.each([
    [{ maxInflightMessages: 0 }, /brokerSettings\.maxInflightMessages/],
    [{ storedMessagesPerSecond: -1 }, /brokerSettings\.storedMessagesPerSecond/],
    [{ minKeepAliveSeconds: 60, maxKeepAliveSeconds: 30 }, /brokerSettings\.minKeepAliveSeconds/],
  ])('refuses %j, naming the setting', (settings, message) => {
    // Act
    const attempt = () => resolveBrokerSettings(settings);

    // Assess
    expect(attempt).toThrow(InvalidBrokerSettings);
    expect(attempt).toThrow(message);
  });

  it("defaults to AWS IoT's figures", () => {
    // Act
    const settings = resolveBrokerSettings();

    // Assess
    expect(settings).toMatchObject({ maxSessionExpirySeconds: 3600, maxInflightMessages: 100, storedMessagesPerSecond: 10, queuedMessagesPerSecond: 500 });
  });
});
