import { DescribeThingCommand, UpdateThingCommand } from '@aws-sdk/client-iot';
import {
  ConflictException,
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  InvalidRequestException,
  IoTDataPlaneClient,
  PublishCommand,
  ResourceNotFoundException,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { iot, mqtt } from 'aws-crt';
import { iotshadow } from 'aws-iot-device-sdk-v2';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { closed, connectMqtt, nextMessage, startTestCloud, subscribeCodes, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { provision, type ProvisionedDevice } from './support/provisioning.js';

/**
 * The local cloud's Device Shadow service through every door a real client uses: the official
 * SDK's IotShadowClientv2 over aws-crt, plain MQTT (mqtt.js) with the documented payloads, and
 * the IoT data plane's HTTP API through @aws-sdk/client-iot-data-plane; the device policy keeps
 * each device to its own shadow.
 */

const REGION = 'eu-central-1';
let test: TestCloud;
let alpha: ProvisionedDevice;
let beta: ProvisionedDevice;
let data: IoTDataPlaneClient;

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION] });
  const claim = await connectMqtt(test, { cert: test.claimCert, key: test.claimKey }, 'prov-shadow-setup');
  alpha = await provision(claim, TEMPLATE, 'shadow-alpha');
  beta = await provision(claim, TEMPLATE, 'shadow-beta');
  claim.end(true);
  data = new IoTDataPlaneClient({ region: REGION, endpoint: test.cloud.iotControlEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  data?.destroy();
  await test?.close();
});

const json = (payload: Uint8Array | undefined): Record<string, unknown> => JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;

async function device(which: ProvisionedDevice): Promise<MqttClient> {
  return connectMqtt(test, { cert: which.cert, key: which.key }, which.thingName, { region: REGION });
}

/** Publishes a request on a device's own shadow topic and waits for its accepted or rejected answer. */
async function shadowRequest(client: MqttClient, prefix: string, operation: 'get' | 'update' | 'delete', body: unknown): Promise<{ outcome: string; body: Record<string, unknown> }> {
  await client.subscribeAsync([`${prefix}/${operation}/accepted`, `${prefix}/${operation}/rejected`], { qos: 1 });
  const answer = within(
    new Promise<{ outcome: string; body: Record<string, unknown> }>((resolve) => {
      client.on('message', (topic: string, payload: Buffer) => {
        if (topic === `${prefix}/${operation}/accepted`) resolve({ outcome: 'accepted', body: JSON.parse(payload.toString()) as Record<string, unknown> });
        if (topic === `${prefix}/${operation}/rejected`) resolve({ outcome: 'rejected', body: JSON.parse(payload.toString()) as Record<string, unknown> });
      });
    }),
    8_000,
    `an answer to ${operation}`,
  );
  await client.publishAsync(`${prefix}/${operation}`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
  return answer;
}

describe('the classic shadow over MQTT', () => {
  it('answers update, get and delete with the documented documents, and publishes delta and documents', async () => {
    // Prepare
    const client = await device(alpha);
    const prefix = `$aws/things/${alpha.thingName}/shadow`;
    await client.subscribeAsync([`${prefix}/update/delta`, `${prefix}/update/documents`], { qos: 1 });
    try {
      // Act
      const missing = await shadowRequest(client, prefix, 'get', { clientToken: 'c-1' });
      const reported = await shadowRequest(client, prefix, 'update', { state: { reported: { color: 'green', nested: { a: 1 } } }, clientToken: 'c-2' });
      const delta = nextMessage(client, `${prefix}/update/delta`);
      const documents = nextMessage(client, `${prefix}/update/documents`);
      const desired = await shadowRequest(client, prefix, 'update', { state: { desired: { color: 'red', nested: { a: 1 }, list: [1, 2] } }, version: 1 });
      const deltaBody = JSON.parse((await delta).toString()) as Record<string, unknown>;
      const documentsBody = JSON.parse((await documents).toString()) as Record<string, unknown>;
      const conflict = await shadowRequest(client, prefix, 'update', { state: { desired: { color: 'blue' } }, version: 1, clientToken: 'c-3' });
      const got = await shadowRequest(client, prefix, 'get', {});
      const removed = await shadowRequest(client, prefix, 'delete', {});
      const recreated = await shadowRequest(client, prefix, 'update', { state: { reported: { color: 'red' } } });

      // Assess
      expect(missing).toMatchObject({ outcome: 'rejected', body: { code: 404, message: `No shadow exists with name: '${alpha.thingName}'`, clientToken: 'c-1' } });
      expect(reported).toMatchObject({ outcome: 'accepted', body: { state: { reported: { color: 'green', nested: { a: 1 } } }, version: 1, clientToken: 'c-2' } });
      expect(reported.body['metadata']).toMatchObject({ reported: { color: { timestamp: expect.any(Number) }, nested: { a: { timestamp: expect.any(Number) } } } });
      expect(desired).toMatchObject({ outcome: 'accepted', body: { version: 2 } });
      expect(deltaBody).toMatchObject({ version: 2, state: { color: 'red', list: [1, 2] } });
      expect(deltaBody['state']).not.toHaveProperty('nested');
      expect(documentsBody).toMatchObject({ previous: { version: 1, state: { reported: { color: 'green' } } }, current: { version: 2, state: { desired: { color: 'red' } } } });
      expect(conflict).toMatchObject({ outcome: 'rejected', body: { code: 409, message: 'Version conflict', clientToken: 'c-3' } });
      expect(got).toMatchObject({ outcome: 'accepted', body: { version: 2, state: { desired: { color: 'red' }, reported: { color: 'green' }, delta: { color: 'red', list: [1, 2] } } } });
      expect(removed).toMatchObject({ outcome: 'accepted', body: { version: 2 } });
      expect(recreated.body['version']).toBe(3);
    } finally {
      client.end(true);
    }
  });

  it.each([
    ['no state node', { desired: { a: 1 } }, 'Missing required node: state'],
    ['a state that is not an object', { state: 5 }, 'State node must be an object'],
    ['a desired node that is not an object', { state: { desired: [1] } }, 'Desired node must be an object'],
    ['an unknown node in state', { state: { delta: { a: 1 } } }, 'State contains an invalid node'],
    ['a client token over 64 bytes', { state: { reported: {} }, clientToken: 'x'.repeat(65) }, 'Invalid clientToken'],
    ['seven levels of nesting', { state: { reported: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }, 'JSON contains too many levels of nesting; maximum is 6'],
    ['text that is not JSON', '{"state":', 'Invalid JSON'],
  ])('rejects an update with %s (400) and changes nothing', async (_what, body, message) => {
    // Prepare
    const client = await device(beta);
    const prefix = `$aws/things/${beta.thingName}/shadow/name/checks`;
    try {
      // Act
      const answer = await shadowRequest(client, prefix, 'update', body);
      const after = await shadowRequest(client, prefix, 'get', {});

      // Assess
      expect(answer).toMatchObject({ outcome: 'rejected', body: { code: 400, message } });
      expect(after).toMatchObject({ outcome: 'rejected', body: { code: 404 } });
    } finally {
      client.end(true);
    }
  });

  it("keeps a device out of another device's shadow", async () => {
    // Prepare
    const client = await device(beta);
    const other = `$aws/things/${alpha.thingName}/shadow`;

    // Act
    const codes = await subscribeCodes(client, [`${other}/get/accepted`, `$aws/things/${beta.thingName}/shadow/get/accepted`]);
    const gone = closed(client);
    client.publish(`${other}/update`, JSON.stringify({ state: { desired: { owned: true } } }), { qos: 1 });
    await gone;

    // Assess
    expect(codes).toEqual([128, 1]);
    const shadow = json((await data.send(new GetThingShadowCommand({ thingName: alpha.thingName }))).payload);
    expect(JSON.stringify(shadow)).not.toContain('owned');
  });
});

describe('the official SDK (IotShadowClientv2 over aws-crt)', () => {
  it('gets and updates its shadow and receives the delta an operator writes over HTTP', async () => {
    // Prepare
    const endpoint = test.cloud.region(REGION).endpoint;
    const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(beta.cert, beta.key)
      .with_certificate_authority(test.rootCa)
      .with_endpoint(endpoint.host)
      .with_port(endpoint.port)
      .with_client_id(beta.thingName)
      .with_clean_session(true)
      .build();
    const connection = new mqtt.MqttClient().new_connection(config);
    await within(connection.connect(), 10_000, 'the SDK to connect');
    const shadow = iotshadow.IotShadowClientv2.newFromMqtt311(connection, { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 10 });
    const deltas: unknown[] = [];
    const stream = shadow.createShadowDeltaUpdatedStream({ thingName: beta.thingName });
    const subscribed = new Promise<void>((resolve) => stream.on('subscriptionStatus', () => resolve()));
    stream.on('incomingPublish', (event) => deltas.push(event.message));
    stream.open();
    try {
      await within(subscribed, 10_000, 'the delta stream');

      // Act
      const updated = await shadow.updateShadow({ thingName: beta.thingName, state: { reported: { firmware: '1.0' } } });
      await data.send(new UpdateThingShadowCommand({ thingName: beta.thingName, payload: Buffer.from(JSON.stringify({ state: { desired: { firmware: '2.0' } } })) }));
      const got = await shadow.getShadow({ thingName: beta.thingName });
      await within(
        (async () => {
          while (deltas.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        5_000,
        'the delta',
      );

      // Assess
      expect(updated.state).toEqual({ reported: { firmware: '1.0' } });
      expect(got.state).toMatchObject({ desired: { firmware: '2.0' }, reported: { firmware: '1.0' }, delta: { firmware: '2.0' } });
      expect(deltas[0]).toMatchObject({ state: { firmware: '2.0' }, version: 2 });
    } finally {
      stream.close();
      shadow.close();
      await within(connection.disconnect(), 10_000, 'the SDK to disconnect');
    }
  });
});

describe('the IoT data plane HTTP API (@aws-sdk/client-iot-data-plane)', () => {
  it('gets, updates with optimistic locking, and deletes, with the typed errors', async () => {
    // Prepare
    const thingName = 'http-only-thing';

    // Act
    const failed = (call: Promise<unknown>): Promise<unknown> => call.then(() => undefined, (error: unknown) => error);
    const missing = await failed(data.send(new GetThingShadowCommand({ thingName })));
    const first = json((await data.send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from('{"state":{"desired":{"mode":"eco"}}}') }))).payload);
    const conflict = await failed(data.send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from('{"state":{"desired":{"mode":"max"}},"version":7}') })));
    const invalid = await failed(data.send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from('{"desired":{}}') })));
    const got = json((await data.send(new GetThingShadowCommand({ thingName }))).payload);
    const deleted = json((await data.send(new DeleteThingShadowCommand({ thingName }))).payload);
    const named = json((await data.send(new UpdateThingShadowCommand({ thingName, shadowName: 'config', payload: Buffer.from('{"state":{"reported":{"x":1}}}') }))).payload);
    const gone = await failed(data.send(new GetThingShadowCommand({ thingName })));

    // Assess
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(first).toMatchObject({ state: { desired: { mode: 'eco' } }, version: 1 });
    expect(conflict).toBeInstanceOf(ConflictException);
    expect(invalid).toBeInstanceOf(InvalidRequestException);
    expect(got).toMatchObject({ state: { desired: { mode: 'eco' }, delta: { mode: 'eco' } }, version: 1 });
    expect(deleted).toMatchObject({ version: 1 });
    expect(gone).toBeInstanceOf(ResourceNotFoundException);
    expect(named).toMatchObject({ version: 1 });
  });

  it('publishes to subscribers, and a Publish to a shadow topic updates the shadow', async () => {
    // Prepare
    const client = await device(alpha);
    try {
      await client.subscribeAsync(`things/${alpha.thingName}/commands`, { qos: 1 });
      const message = nextMessage(client, `things/${alpha.thingName}/commands`);

      // Act
      await data.send(new PublishCommand({ topic: `things/${alpha.thingName}/commands`, qos: 1, payload: Buffer.from('{"reboot":true}') }));
      await data.send(new PublishCommand({ topic: `$aws/things/${alpha.thingName}/shadow/update`, payload: Buffer.from('{"state":{"desired":{"via":"publish"}}}') }));

      // Assess
      expect((await message).toString()).toBe('{"reboot":true}');
      const shadow = json((await data.send(new GetThingShadowCommand({ thingName: alpha.thingName }))).payload);
      expect(shadow).toMatchObject({ state: { desired: { via: 'publish' } } });
    } finally {
      client.end(true);
    }
  });
});

describe('UpdateThing', () => {
  it('merges attributes (an empty value removes one) and checks the expected version', async () => {
    // Prepare
    const iotClient = getIotClient(REGION, { endpoint: test.cloud.iotControlEndpoint });
    await iotClient.send(new UpdateThingCommand({ thingName: alpha.thingName, attributePayload: { attributes: { site: 'lab', owner: 'ops' }, merge: true } }));

    // Act
    await iotClient.send(new UpdateThingCommand({ thingName: alpha.thingName, attributePayload: { attributes: { owner: '' }, merge: true } }));
    const stale = await iotClient.send(new UpdateThingCommand({ thingName: alpha.thingName, expectedVersion: 1, attributePayload: { attributes: { x: '1' } } })).catch((error: unknown) => error);
    const thing = await iotClient.send(new DescribeThingCommand({ thingName: alpha.thingName }));

    // Assess
    expect(thing.attributes).toEqual({ region: REGION, site: 'lab' });
    expect(stale).toMatchObject({ name: 'VersionConflictException' });
  });
});
