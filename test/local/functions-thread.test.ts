import { generateKeyPairSync } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { FunctionsThreadFailed, startFunctionsThread } from '@global-iot/local/functions-thread.js';
import { createLogger } from '@global-iot/local/log.js';
import type { ProductFunctionSettings } from '@global-iot/local/product-functions.js';
import { httpApiEvent, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { hookEvent } from '../hook/helpers.js';

/**
 * The product's functions on a thread of their own (what `npm start` and `npm run cloud` run):
 * the same answers as on the cloud's thread (the product tests run both), logs handed back to
 * the cloud's logger, and failures of the thread itself as errors, never as hangs.
 */

let t: TestRegistry;
const fleet = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ticketPair = generateKeyPairSync('ed25519');
const ticketKey = ticketPair.privateKey;

function settings(overrides: Partial<ProductFunctionSettings> = {}): ProductFunctionSettings {
  return {
    config: parseDeploymentConfig({
      homeRegion: 'us-east-1',
      regions: ['us-east-1', 'eu-central-1'],
      defaultRegion: 'us-east-1',
      tableName: t.tableName,
      endpointOverrides: { 'us-east-1': 'iot.us-east-1.example.test', 'eu-central-1': 'iot.eu-central-1.example.test' },
      // Admission has tests of its own (test/bootstrap/admission.test.ts); no table for it here.
      admission: { enabled: false },
    }),
    dynamoEndpoint: t.dynamo.endpoint,
    fleetPublicKeys: [fleet.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ticketKeyId: 'thread-test',
    ticketPrivateKeyPem: ticketKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ticketPublicKeys: { 'thread-test': ticketPair.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    // Never reached: both regions have an endpoint override.
    iotControlEndpoint: 'http://127.0.0.1:1',
    geolocation: false,
    ...overrides,
  };
}

/** What the confirmation rule hands the confirmation function. */
function confirmation(clientId: string, principal: string): Record<string, unknown> {
  return { clientId, principal, receivedAt: Date.now() };
}

beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t?.close();
});

describe('the functions thread', () => {
  it('answers a signed request, changes the registry, and hands its log line to the cloud without the ticket', async () => {
    // Prepare
    const lines: string[] = [];
    const thread = await startFunctionsThread(settings(), createLogger('info', (line) => lines.push(line)));
    await t.registry.enroll({ thingName: 'thread-device-1' });

    try {
      // Act
      const result = (await thread.bootstrap(httpApiEvent(signedBootstrapRequest(fleet.privateKey, 'thread-device-1', Date.now())))) as APIGatewayProxyStructuredResultV2;
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
    const thread = await startFunctionsThread(settings(), createLogger('silent'));
    await t.registry.enroll({ thingName: 'thread-device-2' });
    const request = signedBootstrapRequest(fleet.privateKey, 'thread-device-2', Date.now());

    try {
      // Act
      const result = (await thread.bootstrap(httpApiEvent({ ...request, 'thing-name-sig': Buffer.alloc(64).toString('base64') }))) as APIGatewayProxyStructuredResultV2;

      // Assess
      expect(result.statusCode).toBe(401);
      expect((await t.registry.get('thread-device-2'))?.prov_status).toBe('unprovisioned');
    } finally {
      await thread.close();
    }
  });

  it('runs the hook and the confirmation: allow with the live ticket, deny a forged one, confirm the allowed certificate', async () => {
    // Prepare
    const thread = await startFunctionsThread(settings(), createLogger('silent'));
    await t.registry.enroll({ thingName: 'thread-device-3' });
    await t.registry.enroll({ thingName: 'thread-device-4' });
    const certificateId = 'a'.repeat(64);

    try {
      const bootstrapped = parseAnswer(
        (await thread.bootstrap(httpApiEvent(signedBootstrapRequest(fleet.privateKey, 'thread-device-3', Date.now())))) as APIGatewayProxyStructuredResultV2,
      );
      const region = String(bootstrapped['region']);

      // Act
      const allowed = await thread.hook(hookEvent({ thingName: 'thread-device-3', ticket: String(bootstrapped['ticket']), region, certificateId }));
      const forged = await thread.hook(hookEvent({ thingName: 'thread-device-4', ticket: 't1.forged.ticket', region, certificateId }));
      const elsewhere = await thread.confirm('eu-central-1')(confirmation('thread-device-3', certificateId));
      const confirmed = await thread.confirm(region)(confirmation('thread-device-3', certificateId));

      // Assess
      expect(region).toBe('us-east-1');
      expect(allowed).toMatchObject({ allowProvisioning: true });
      expect(forged).toMatchObject({ allowProvisioning: false });
      expect(elsewhere).toEqual({ confirmed: false });
      expect(confirmed).toEqual({ confirmed: true });
      expect(await t.registry.get('thread-device-3')).toMatchObject({ prov_status: 'provisioned', certificate_id: certificateId, aws_region: 'us-east-1' });
      expect((await t.registry.get('thread-device-4'))?.prov_status).toBe('unprovisioned');
    } finally {
      await thread.close();
    }
  });

  it('refuses to start with a ticket key it cannot use, and says why', async () => {
    // Act
    const attempt = startFunctionsThread(settings({ ticketPrivateKeyPem: 'not a key' }), createLogger('silent'));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(FunctionsThreadFailed);
    await expect(attempt).rejects.toThrow(/could not start/);
  });

  it('fails requests once closed instead of leaving them waiting', async () => {
    // Prepare
    const thread = await startFunctionsThread(settings(), createLogger('silent'));
    await thread.close();

    // Act
    const attempts = [thread.bootstrap(httpApiEvent({})), thread.hook({}), thread.confirm('us-east-1')({})];

    // Assess
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(FunctionsThreadFailed);
  });
});
