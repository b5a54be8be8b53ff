import { iot, mqtt, mqtt5 } from 'aws-crt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { type ProvisionedDevice, provision } from './support/provisioning.js';

/**
 * Persistent sessions with the AWS IoT Device SDK v2 (aws-crt's MQTT 3.1.1 and MQTT 5 clients):
 * the session present flag as the SDK reports it, and the QoS 1 messages kept while the device
 * was away delivered when it comes back, without subscribing again.
 */

const REGION = 'eu-central-1';
let test: TestCloud;
let device311: ProvisionedDevice;
let device5: ProvisionedDevice;

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION] });
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-sdk-session-factory', { region: REGION });
  device311 = await provision(claim, TEMPLATE, 'sdk-session-311');
  device5 = await provision(claim, TEMPLATE, 'sdk-session-5');
  claim.end(true);
});

afterAll(async () => {
  await test?.close();
});

const endpoint = () => test.cloud.region(REGION).endpoint;
const commands = (device: ProvisionedDevice) => `things/${device.thingName}/cmd`;

function inject(device: ProvisionedDevice, payload: string): void {
  test.cloud.region(REGION).dataPlane.broker.publish(commands(device), Buffer.from(payload), { qos: 1 });
}

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

describe('MQTT 3.1.1 (MqttClientConnection), clean session false', () => {
  /** A connection as the SDK's samples build one, asking to keep its session; messages recorded. */
  function persistentConnection(received: string[]): mqtt.MqttClientConnection {
    const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(device311.cert, device311.key)
      .with_certificate_authority(test.rootCa)
      .with_endpoint(endpoint().host)
      .with_port(endpoint().port)
      .with_client_id(device311.thingName)
      .with_clean_session(false)
      .build();
    const connection = new mqtt.MqttClient().new_connection(config);
    connection.on('message', (_topic, payload) => received.push(Buffer.from(payload).toString('utf8')));
    return connection;
  }

  it('is told the session is present, and gets what was published while it was away', async () => {
    // Prepare
    const received: string[] = [];
    const first = persistentConnection(received);
    const firstPresent = await within(first.connect(), 10_000, 'the SDK to connect');
    await within(first.subscribe(commands(device311), mqtt.QoS.AtLeastOnce), 10_000, 'SUBACK');
    await within(first.disconnect(), 10_000, 'the SDK to disconnect');
    await gone(device311.thingName);
    inject(device311, 'while away');

    // Act
    const second = persistentConnection(received);
    const present = await within(second.connect(), 10_000, 'the SDK to connect again');
    await within(
      (async () => {
        while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      8_000,
      'the kept message',
    );

    // Assess
    expect(firstPresent).toBe(false);
    expect(present).toBe(true);
    expect(received).toEqual(['while away']);
    await within(second.disconnect(), 10_000, 'the SDK to disconnect');
  });
});

describe('MQTT 5 (Mqtt5Client), session expiry interval', () => {
  /** A client that always asks to rejoin its session, kept for a minute; started, connected. */
  async function rejoiningClient(received: string[]): Promise<{ client: mqtt5.Mqtt5Client; rejoined: boolean }> {
    const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(endpoint().host, device5.cert, device5.key);
    builder.withCertificateAuthority(test.rootCa);
    builder.withPort(endpoint().port);
    builder.withSessionBehavior(mqtt5.ClientSessionBehavior.RejoinAlways);
    builder.withConnectProperties({ clientId: device5.thingName, keepAliveIntervalSeconds: 60, sessionExpiryIntervalSeconds: 60 });
    const client = new mqtt5.Mqtt5Client(builder.build());
    client.on('messageReceived', (event) => received.push(Buffer.from(event.message.payload as ArrayBuffer).toString('utf8')));
    const connected = new Promise<boolean>((resolve, reject) => {
      client.on('connectionSuccess', (event) => resolve(event.settings.rejoinedSession));
      client.on('connectionFailure', (event) => reject(event.error));
    });
    client.start();
    return { client, rejoined: await within(connected, 10_000, 'the MQTT 5 client to connect') };
  }

  async function stop(client: mqtt5.Mqtt5Client): Promise<void> {
    const stopped = new Promise<void>((resolve) => client.on('stopped', () => resolve()));
    client.stop();
    await within(stopped, 10_000, 'the MQTT 5 client to stop');
    client.close();
  }

  it('rejoins its session and gets what was published while it was away', async () => {
    // Prepare
    const received: string[] = [];
    const first = await rejoiningClient(received);
    await within(first.client.subscribe({ subscriptions: [{ topicFilter: commands(device5), qos: mqtt5.QoS.AtLeastOnce }] }), 10_000, 'SUBACK');
    await stop(first.client);
    await gone(device5.thingName);
    inject(device5, 'while away, MQTT 5');

    // Act
    const second = await rejoiningClient(received);
    await within(
      (async () => {
        while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      8_000,
      'the kept message',
    );

    // Assess
    expect(first.rejoined).toBe(false);
    expect(second.rejoined).toBe(true);
    expect(received).toEqual(['while away, MQTT 5']);
    await stop(second.client);
  });
});
