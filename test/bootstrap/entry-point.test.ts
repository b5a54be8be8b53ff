import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureAdmissionTable } from '@global-iot/core/admission/table.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { parseTicketPublicKeys, verifyTicket } from '@global-iot/core/ticket.js';
import { httpApiEvent, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../helpers/secrets-manager.js';
import { captureOutput, lambdaContext } from '../helpers/telemetry.js';

/**
 * The bootstrap's AWS entry point (handler.ts) as Lambda loads it: settings from the environment,
 * the ticket key from Secrets Manager (a local stand-in), the registry in dynalite, Powertools
 * writing the log line and the metrics to stdout.
 */

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:GlobalIot/ticket-signing-key';
const CACHE_SECONDS = 10;

function ticketKey(kid: string): { secret: string; publicPem: string } {
  const pair = generateKeyPairSync('ed25519');
  return {
    secret: JSON.stringify({ kid, privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

let t: TestRegistry;
let sm: SecretsManagerStandIn;
let fleet: KeyObject;
const first = ticketKey('2026-11');
const promoted = ticketKey('2026-12');

beforeAll(async () => {
  t = await startTestRegistry();
  // Admission is on by default: its table, under the default name, beside the registry.
  await ensureAdmissionTable(t.client, 'iot-bootstrap-admission');
  sm = await startSecretsManagerStandIn();
  sm.set(SECRET_ARN, first.secret);
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  fleet = pair.privateKey;
  // The Lambda environment, before the module reads it at load.
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', sm.endpoint);
  vi.stubEnv('DYNAMODB_ENDPOINT', t.dynamo.endpoint);
  vi.stubEnv('REGISTRY_TABLE', t.tableName);
  vi.stubEnv('TICKET_SIGNING_SECRET_ARN', SECRET_ARN);
  vi.stubEnv('SECRET_CACHE_SECONDS', String(CACHE_SECONDS));
  vi.stubEnv('FLEET_PUBLIC_KEYS', JSON.stringify([pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()]));
  vi.stubEnv(
    'BOOTSTRAP_CONFIG',
    JSON.stringify({ homeRegion: 'us-east-1', regions: ['us-east-1'], defaultRegion: 'us-east-1', endpointOverrides: { 'us-east-1': 'iot.us-east-1.example.test' } }),
  );
});
afterAll(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  await sm.close();
  await t.close();
});

describe('the bootstrap entry point', () => {
  it('reads its ticket key at load, answers, and writes one log line and one EMF document', async () => {
    // Prepare
    const { handler } = await import('@global-iot/bootstrap-service/handler.js');
    const callsAtLoad = sm.calls.length;
    await t.registry.enroll({ thingName: 'entry-1' });
    const event = httpApiEvent(signedBootstrapRequest(fleet, 'entry-1', Date.now()));
    const output = captureOutput();

    // Act
    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await handler(event, lambdaContext('bootstrap', 'lambda-req-1'));
    } finally {
      output.stop();
    }

    // Assess
    expect(callsAtLoad).toBe(1);
    expect(result.statusCode).toBe(200);
    const ticket = String(parseAnswer(result)['ticket']);
    expect(verifyTicket(ticket, parseTicketPublicKeys({ '2026-11': first.publicPem }), Date.now()).sub).toBe('entry-1');
    const lines = output.lines();
    expect(lines.filter((line) => 'message' in line)).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'bootstrap',
        service: 'bootstrap',
        function_request_id: 'lambda-req-1',
        requestId: event.requestContext.requestId,
        thing: 'entry-1',
        outcome: 'SUCCESS',
        status: 200,
        ticketKid: '2026-11',
      }),
    ]);
    expect(lines.filter((line) => '_aws' in line)).toEqual([
      expect.objectContaining({ service: 'bootstrap', Outcome: 'SUCCESS', Region: 'us-east-1', Invocations: 1, Duration: expect.any(Number) }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(ticket.slice(3, 40));
  });

  it('signs with a promoted key within the cache lifetime, without a cold start', async () => {
    // Prepare
    const { handler } = await import('@global-iot/bootstrap-service/handler.js');
    await t.registry.enroll({ thingName: 'entry-2' });
    await t.registry.enroll({ thingName: 'entry-3' });
    sm.set(SECRET_ARN, promoted.secret);
    vi.useFakeTimers({ toFake: ['Date'] });
    const both = parseTicketPublicKeys({ '2026-11': first.publicPem, '2026-12': promoted.publicPem });
    const output = captureOutput();

    // Act
    let before: APIGatewayProxyStructuredResultV2;
    let after: APIGatewayProxyStructuredResultV2;
    try {
      before = await handler(httpApiEvent(signedBootstrapRequest(fleet, 'entry-2', Date.now())), lambdaContext('bootstrap', 'lambda-req-2'));
      vi.setSystemTime(Date.now() + CACHE_SECONDS * 1000 + 1);
      after = await handler(httpApiEvent(signedBootstrapRequest(fleet, 'entry-3', Date.now())), lambdaContext('bootstrap', 'lambda-req-3'));
    } finally {
      output.stop();
      vi.useRealTimers();
    }

    // Assess
    const kid = (result: APIGatewayProxyStructuredResultV2) => verifyTicket(String(parseAnswer(result)['ticket']), both, Date.now()).kid;
    expect(kid(before)).toBe('2026-11');
    expect(kid(after)).toBe('2026-12');
    // What the operator checks before retiring the old key: which key each request's ticket got.
    expect(output.lines().filter((line) => line['message'] === 'bootstrap').map((line) => [line['thing'], line['ticketKid']])).toEqual([
      ['entry-2', '2026-11'],
      ['entry-3', '2026-12'],
    ]);
  });
});
