import { X509Certificate } from 'node:crypto';
import { iot, mqtt, mqtt5 } from 'aws-crt';
import { iotidentity } from 'aws-iot-device-sdk-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr } from './support/csr.js';
import { DENY_TEMPLATE, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';

/**
 * Fleet provisioning with the official AWS IoT Device SDK v2 (aws-crt's own MQTT client and TLS
 * stack, IotIdentityClientv2), exactly as a device uses it against AWS: the SDK only learns the
 * endpoint host name, the port and the CA.
 */

const REGION = 'eu-central-1';
const RR_OPTIONS = { maxRequestResponseSubscriptions: 2, maxStreamingSubscriptions: 0, operationTimeoutInSeconds: 10 };

let test: TestCloud;

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION] });
});

afterAll(async () => {
  await test?.close();
});

function endpoint() {
  return test.cloud.region(REGION).endpoint;
}

/** An MQTT 3.1.1 connection built the way the SDK's samples build one. */
async function connect311(cert: string, key: string, clientId: string): Promise<mqtt.MqttClientConnection> {
  const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(cert, key)
    .with_certificate_authority(test.rootCa)
    .with_endpoint(endpoint().host)
    .with_port(endpoint().port)
    .with_client_id(clientId)
    .with_clean_session(true)
    .build();
  const connection = new mqtt.MqttClient().new_connection(config);
  await within(connection.connect(), 10_000, 'the SDK to connect');
  return connection;
}

async function disconnect(connection: mqtt.MqttClientConnection): Promise<void> {
  await within(connection.disconnect(), 10_000, 'the SDK to disconnect');
}

describe('IotIdentityClientv2 over MQTT 3.1.1', () => {
  it('provisions with CreateKeysAndCertificate and reconnects with the new certificate', async () => {
    // Prepare
    const connection = await connect311(test.claimCert, test.claimKey, 'prov-sdk-keys-device');
    const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, RR_OPTIONS);

    // Act
    const keys = await identity.createKeysAndCertificate({});
    const registered = await identity.registerThing({
      templateName: TEMPLATE,
      certificateOwnershipToken: keys.certificateOwnershipToken ?? '',
      parameters: { ThingName: 'sdk-keys-device', Ticket: 't' },
    });
    identity.close();
    await disconnect(connection);
    const device = await connect311(keys.certificatePem ?? '', keys.privateKey ?? '', 'sdk-keys-device');
    await disconnect(device);

    // Assess
    expect(registered).toEqual({ thingName: 'sdk-keys-device', deviceConfiguration: { region: REGION } });
    expect(test.cloud.region(REGION).state.getCertificate(keys.certificateId ?? '')?.status).toBe('ACTIVE');
  });

  it('provisions with CreateCertificateFromCsr and reconnects with the device key', async () => {
    // Prepare
    const csr = await createCsr('ec-p256', 'sdk-csr-device');
    const connection = await connect311(test.claimCert, test.claimKey, 'prov-sdk-csr-device');
    const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, RR_OPTIONS);

    // Act
    const created = await identity.createCertificateFromCsr({ certificateSigningRequest: csr.csrPem });
    const registered = await identity.registerThing({
      templateName: TEMPLATE,
      certificateOwnershipToken: created.certificateOwnershipToken ?? '',
      parameters: { ThingName: 'sdk-csr-device', Ticket: 't' },
    });
    identity.close();
    await disconnect(connection);
    const device = await connect311(created.certificatePem ?? '', csr.privateKeyPem, 'sdk-csr-device');
    await disconnect(device);

    // Assess
    expect(registered.thingName).toBe('sdk-csr-device');
    expect(new X509Certificate(created.certificatePem ?? '').subject).toBe('CN=sdk-csr-device');
  });

  it('surfaces a rejection as the SDK modelled error', async () => {
    // Prepare
    const connection = await connect311(test.claimCert, test.claimKey, 'prov-sdk-denied-device');
    const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, RR_OPTIONS);
    const keys = await identity.createKeysAndCertificate({});

    // Act
    const attempt = identity.registerThing({
      templateName: DENY_TEMPLATE,
      certificateOwnershipToken: keys.certificateOwnershipToken ?? '',
      parameters: { ThingName: 'sdk-denied-device', Ticket: 't' },
    });

    // Assess
    await expect(attempt).rejects.toMatchObject({
      modeledError: { statusCode: 403, errorCode: 'AccessDenied', errorMessage: expect.any(String) },
    });
    identity.close();
    await disconnect(connection);
  });
});

describe('IotIdentityClientv2 over MQTT 5', () => {
  it('provisions with CreateKeysAndCertificate', async () => {
    // Prepare
    const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(endpoint().host, test.claimCert, test.claimKey);
    builder.withCertificateAuthority(test.rootCa);
    builder.withPort(endpoint().port);
    builder.withConnectProperties({ clientId: 'prov-sdk5-device', keepAliveIntervalSeconds: 60 });
    const client = new mqtt5.Mqtt5Client(builder.build());
    const connected = new Promise<void>((resolve, reject) => {
      client.on('connectionSuccess', () => resolve());
      client.on('connectionFailure', (event) => reject(event.error));
    });
    client.start();
    await within(connected, 10_000, 'the MQTT 5 client to connect');
    const identity = iotidentity.IotIdentityClientv2.newFromMqtt5(client, RR_OPTIONS);

    // Act
    const keys = await identity.createKeysAndCertificate({});
    const registered = await identity.registerThing({
      templateName: TEMPLATE,
      certificateOwnershipToken: keys.certificateOwnershipToken ?? '',
      parameters: { ThingName: 'sdk5-device', Ticket: 't' },
    });

    // Assess
    expect(registered).toEqual({ thingName: 'sdk5-device', deviceConfiguration: { region: REGION } });
    identity.close();
    const stopped = new Promise<void>((resolve) => client.on('stopped', () => resolve()));
    client.stop();
    await within(stopped, 10_000, 'the MQTT 5 client to stop');
    client.close();
  });
});
