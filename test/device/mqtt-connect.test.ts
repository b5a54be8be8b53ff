import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MqttConnectFailed } from '@global-iot/device/errors.js';
import { createCrtTransport, type MqttProtocol } from '@global-iot/device/mqtt.js';
import { whileThrottled } from '@global-iot/device/throttle.js';
import { type ConnackServer, type ConnectAnswer, startConnackServer } from './support/connack-server.js';

/**
 * How the CRT transport reports a CONNECT the server refused, through real TLS and MQTT: the
 * kind of failure decides whether the flow waits and tries the same endpoint again (throttled,
 * ended) or moves on (refused, unreachable).
 */

let server: ConnackServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

function transport(protocol: MqttProtocol, caPem: string) {
  return createCrtTransport({ protocol, caPem, connectTimeoutMs: 3_000, operationTimeoutMs: 3_000 });
}

async function connectOnce(protocol: MqttProtocol, answer: ConnectAnswer): Promise<unknown> {
  server = await startConnackServer([answer]);
  const target = { region: 'eu-west-1', host: 'localhost', port: server.port };
  return transport(protocol, server.caPem)
    .checkConnection(target, 'sensor-1', server.credentials)
    .then(() => 'connected', (error: unknown) => error);
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('a refused CONNECT, as the device sees it', () => {
  it.each([
    ['mqtt5', 0x9f, 'throttled', 'connection rate exceeded'],
    ['mqtt5', 0x97, 'throttled', 'quota exceeded'],
    ['mqtt5', 0x89, 'throttled', 'server busy'],
    ['mqtt5', 0x87, 'refused', 'not authorized'],
  ] as const)('%s CONNACK reason code %i is %s (%s)', async (protocol, connack, kind, _meaning) => {
    // Act
    const error = await connectOnce(protocol, { connack, protocol });

    // Assess
    expect(error).toBeInstanceOf(MqttConnectFailed);
    expect(error).toMatchObject({ kind, reasonCode: connack });
  });

  it.each([3, 5])('an MQTT 3.1.1 refusal (return code %s) is an ended connection: the CRT does not pass the code on', async (connack) => {
    // Act
    const error = await connectOnce('mqtt311', { connack, protocol: 'mqtt311' });

    // Assess
    expect(error).toBeInstanceOf(MqttConnectFailed);
    expect(error).toMatchObject({ kind: 'ended', reasonCode: undefined });
  });

  it.each(['mqtt311', 'mqtt5'] as const)('over %s, a hang-up after the CONNECT is an ended connection', async (protocol) => {
    // Act
    const error = await connectOnce(protocol, 'hang up');

    // Assess
    expect(error).toMatchObject({ name: 'MqttConnectFailed', kind: 'ended' });
  });

  it.each(['mqtt311', 'mqtt5'] as const)('over %s, an endpoint with nothing listening is unreachable', async (protocol) => {
    // Prepare
    const port = await closedPort();
    const { caPem, credentials } = (server = await startConnackServer([{ connack: 0, protocol }]));

    // Act
    const error = await transport(protocol, caPem)
      .checkConnection({ region: 'eu-west-1', host: 'localhost', port }, 'sensor-1', credentials)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'MqttConnectFailed', kind: 'unreachable' });
  });

  it.each(['mqtt311', 'mqtt5'] as const)('over %s, is tried again after at least a second, and connects', async (protocol) => {
    // Prepare: the first CONNECT refused as AWS IoT's per-client-id quota would, the next accepted.
    const refusal: ConnectAnswer = protocol === 'mqtt5' ? { connack: 0x9f, protocol } : { connack: 3, protocol };
    server = await startConnackServer([refusal, { connack: 0, protocol }]);
    const crt = transport(protocol, server.caPem);
    const target = { region: 'eu-west-1', host: 'localhost', port: server.port };
    const waits: number[] = [];
    const credentials = server.credentials;

    // Act
    await whileThrottled(() => crt.checkConnection(target, 'sensor-1', credentials), {
      policy: { attempts: 3, baseBackoffMs: 100, maxBackoffMs: 1_000 },
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
      onRetry: () => undefined,
    });

    // Assess
    expect(server.connects()).toBe(2);
    expect(waits).toEqual([1_000]);
  });
});
