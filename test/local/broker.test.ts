import { connect as tlsConnect } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closed, connectMqtt, nextMessage, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { type ProvisionedDevice, provision, request } from './support/provisioning.js';

/** MQTT behaviour of the emulated broker that AWS IoT documents: limits, QoS, sessions, retained and will messages. */

const REGION = 'us-east-1';
let test: TestCloud;
let device: ProvisionedDevice;
let observer: ProvisionedDevice;

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION], brokerSettings: { minKeepAliveSeconds: 1 } });
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-broker-factory');
  device = await provision(claim, TEMPLATE, 'broker-device');
  observer = await provision(claim, TEMPLATE, 'broker-observer');
  claim.end(true);
  // The observer may read every thing's topics: a policy an operator's console would have.
  const state = test.cloud.region(REGION).state;
  state.putPolicy(
    'ObserverPolicy',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `arn:aws:iot:${REGION}:${test.cloud.accountId}:topicfilter/things/*` },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: `arn:aws:iot:${REGION}:${test.cloud.accountId}:topic/things/*` },
      ],
    }),
  );
  state.attachPolicy(observer.certificateId, 'ObserverPolicy');
});

afterAll(async () => {
  await test?.close();
});

const claimIdentity = () => ({ cert: test.claimCert, key: test.claimKey });

describe('limits', () => {
  it('takes a payload of exactly 128 KiB', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-payload-limit');

    // Act
    const answer = await request(client, '$aws/certificates/create/json', Buffer.alloc(128 * 1024, 0x20), 'json');

    // Assess
    expect(answer.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidPayload' });
    client.end(true);
  });

  it('disconnects a client that publishes more than 128 KiB', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-payload-over');
    const gone = closed(client);

    // Act
    client.publish('$aws/certificates/create/json', Buffer.alloc(128 * 1024 + 1, 0x20), { qos: 1 });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });

  it('disconnects a client that publishes with QoS 2, which AWS IoT does not support', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-qos2');
    const gone = closed(client);

    // Act
    client.publish('$aws/certificates/create/json', '{}', { qos: 2 });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });

  it('disconnects a client that retains a message without iot:RetainPublish', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-retainer');
    const gone = closed(client);

    // Act
    client.publish('$aws/certificates/create/json', '{}', { qos: 1, retain: true });

    // Assess
    await expect(gone).resolves.toBeUndefined();
    client.end(true);
  });

  it('grants QoS 1 to a QoS 2 subscription', async () => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), 'prov-qos2-sub');

    // Act
    const granted = await client.subscribeAsync('$aws/certificates/create/json/accepted', { qos: 2 });

    // Assess
    expect(granted.map((g) => g.qos)).toEqual([1]);
    client.end(true);
  });
});

/** A raw TLS connection with the claim certificate, for packets mqtt.js would never send. */
function rawClaimSocket() {
  const endpoint = test.cloud.region(REGION).endpoint;
  const socket = tlsConnect({ host: endpoint.address, port: endpoint.port, servername: endpoint.host, ca: test.rootCa, cert: test.claimCert, key: test.claimKey });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 8_000, 'the server to close');
  return { socket, received, ended };
}

describe('connections', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('resumes no TLS session over %s: every connection shows its certificate', async (version) => {
    // Prepare: one full handshake, keeping whatever session the server hands out.
    const endpoint = test.cloud.region(REGION).endpoint;
    const open = async (session?: Buffer) => {
      const sessions: Buffer[] = [];
      const socket = tlsConnect({
        host: endpoint.address,
        port: endpoint.port,
        servername: endpoint.host,
        ca: test.rootCa,
        cert: test.claimCert,
        key: test.claimKey,
        minVersion: version,
        maxVersion: version,
        ...(session ? { session } : {}),
      });
      socket.on('session', (value: Buffer) => sessions.push(value));
      await within(new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())), 8_000, 'the handshake');
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `prov-no-resume-${version}`, clean: true, keepalive: 60 }));
      const connack = await within(new Promise<Buffer>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk))), 8_000, 'the CONNACK');
      return { socket, connack, session: sessions.at(-1) ?? socket.getSession() };
    };
    const first = await open();
    first.socket.destroy();

    // Act: offer that session on the next connection.
    const second = await open(first.session);
    const resumed = second.socket.isSessionReused();
    const protocol = second.socket.getProtocol();
    second.socket.destroy();

    // Assess
    expect(protocol).toBe(version);
    expect(resumed).toBe(false);
    expect(second.connack).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
  });

  it('refuses MQTT 3.1 with return code 1', async () => {
    // Prepare
    const raw = rawClaimSocket();

    // Act
    raw.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'prov-old', clean: true, keepalive: 60 }));
    await raw.ended;

    // Assess
    expect(Buffer.concat(raw.received)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x01]));
  });

  it('closes a connection whose first packet is not CONNECT', async () => {
    // Prepare
    const raw = rawClaimSocket();

    // Act
    raw.socket.write(mqttPacket.generate({ cmd: 'pingreq' }));
    await raw.ended;

    // Assess
    expect(Buffer.concat(raw.received)).toHaveLength(0);
  });

  it('closes a connection that stays silent for 1.5 keep-alive periods', async () => {
    // Prepare
    const raw = rawClaimSocket();

    // Act
    raw.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'prov-silent', clean: true, keepalive: 1 }));
    await raw.ended;

    // Assess
    expect(Buffer.concat(raw.received).subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
  });
});

describe('messages', () => {
  it('keeps a retained message for later subscribers', async () => {
    // Prepare
    const publisher = await connectMqtt(test, device, device.thingName);
    await publisher.publishAsync('things/broker-device/state', 'on', { qos: 1, retain: true });
    publisher.end(true);
    const reader = await connectMqtt(test, observer, observer.thingName);
    const retained = nextMessage(reader, 'things/broker-device/state');

    // Act
    await reader.subscribeAsync('things/broker-device/#', { qos: 1 });

    // Assess
    expect((await retained).toString()).toBe('on');
    reader.end(true);
  });

  it("publishes a client's will when its connection is lost", async () => {
    // Prepare
    const reader = await connectMqtt(test, observer, observer.thingName);
    await reader.subscribeAsync('things/broker-device/status', { qos: 1 });
    const will = nextMessage(reader, 'things/broker-device/status');
    const writer = await connectMqtt(test, device, device.thingName, { will: { topic: 'things/broker-device/status', payload: Buffer.from('lost'), qos: 1, retain: false } });

    // Act
    writer.stream.destroy();

    // Assess
    expect((await will).toString()).toBe('lost');
    writer.end(true);
    reader.end(true);
  });
});
