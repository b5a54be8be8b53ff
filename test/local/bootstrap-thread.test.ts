import { generateKeyPairSync } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../core/config.js';
import { signedBootstrapRequest } from '../../core/signing.js';
import { BootstrapThreadFailed, startBootstrapThread } from '../../local/bootstrap-thread.js';
import { createLogger } from '../../local/log.js';
import type { BootstrapSettings } from '../../local/product-bootstrap.js';
import { httpApiEvent, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * The bootstrap function on a thread of its own (what `npm start` and `npm run cloud` run): the
 * same answers as on the cloud's thread (the product tests run both), logs handed back to the
 * cloud's logger, and failures of the thread itself as errors, never as hangs.
 */

let t: TestRegistry;
const fleet = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ticketKey = generateKeyPairSync('ed25519').privateKey;

function settings(overrides: Partial<BootstrapSettings> = {}): BootstrapSettings {
  return {
    config: parseDeploymentConfig({
      homeRegion: 'us-east-1',
      regions: ['us-east-1', 'eu-central-1'],
      defaultRegion: 'us-east-1',
      tableName: t.tableName,
      endpointOverrides: { 'us-east-1': 'iot.us-east-1.example.test', 'eu-central-1': 'iot.eu-central-1.example.test' },
    }),
    dynamoEndpoint: t.dynamo.endpoint,
    fleetPublicKeys: [fleet.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ticketKeyId: 'thread-test',
    ticketPrivateKeyPem: ticketKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    // Never reached: both regions have an endpoint override.
    iotControlEndpoint: 'http://127.0.0.1:1',
    geolocation: false,
    ...overrides,
  };
}

beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t?.close();
});

describe('the bootstrap thread', () => {
  it('answers a signed request, changes the registry, and hands its log line to the cloud without the ticket', async () => {
    // Prepare
    const lines: string[] = [];
    const thread = await startBootstrapThread(settings(), createLogger('info', (line) => lines.push(line)));
    await t.registry.enroll({ thingName: 'thread-device-1' });

    try {
      // Act
      const result = (await thread.handler(httpApiEvent(signedBootstrapRequest(fleet.privateKey, 'thread-device-1', Date.now())))) as APIGatewayProxyStructuredResultV2;
      const answer = parseAnswer(result);
      await new Promise((resolve) => setTimeout(resolve, 50));

      // Assess
      expect(result.statusCode).toBe(200);
      expect(answer).toMatchObject({ status: 'success', region: 'us-east-1', endpointAddress: 'iot.us-east-1.example.test' });
      expect((await t.registry.get('thread-device-1'))?.prov_status).toBe('assigned');
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['message'] === 'bootstrap');
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 'info', thing: 'thread-device-1', status: 200 });
      expect(lines.join('\n')).not.toContain(String(answer['ticket']));
    } finally {
      await thread.close();
    }
  });

  it('answers a bad request as the handler does, and the registry is unchanged', async () => {
    // Prepare
    const thread = await startBootstrapThread(settings(), createLogger('silent'));
    await t.registry.enroll({ thingName: 'thread-device-2' });
    const request = signedBootstrapRequest(fleet.privateKey, 'thread-device-2', Date.now());

    try {
      // Act
      const result = (await thread.handler(httpApiEvent({ ...request, 'thing-name-sig': Buffer.alloc(64).toString('base64') }))) as APIGatewayProxyStructuredResultV2;

      // Assess
      expect(result.statusCode).toBe(401);
      expect((await t.registry.get('thread-device-2'))?.prov_status).toBe('unprovisioned');
    } finally {
      await thread.close();
    }
  });

  it('refuses to start with a ticket key it cannot use, and says why', async () => {
    // Act
    const attempt = startBootstrapThread(settings({ ticketPrivateKeyPem: 'not a key' }), createLogger('silent'));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(BootstrapThreadFailed);
    await expect(attempt).rejects.toThrow(/could not start/);
  });

  it('fails requests once closed instead of leaving them waiting', async () => {
    // Prepare
    const thread = await startBootstrapThread(settings(), createLogger('silent'));
    await thread.close();

    // Act
    const attempt = thread.handler(httpApiEvent({}));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(BootstrapThreadFailed);
  });
});
