import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBootstrapDeps, createBootstrapHandler } from '@global-iot/bootstrap-service/app.js';
import type { GeolocateDeps } from '@global-iot/bootstrap-service/geolocate.js';
import { type DeploymentConfig, type DeploymentConfigInput, parseDeploymentConfig } from '@global-iot/core/config.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { ed25519Signer, parseTicketPublicKeys, type TicketVerificationKeys } from '@global-iot/core/ticket.js';
import { RecordedInvocations } from './telemetry.js';

export const ALL_TEST_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'ca-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-central-1',
  'eu-north-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-southeast-1',
  'ap-southeast-2',
];

const UNREACHABLE_DYNAMO = new DynamoDBClient({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
});

export interface Harness {
  handler: (event: unknown) => Promise<APIGatewayProxyStructuredResultV2>;
  config: DeploymentConfig;
  fleetKey: KeyObject;
  ticketKeys: TicketVerificationKeys;
  /** What the handler recorded: its log lines and the dimensions of its metrics. */
  recorded: RecordedInvocations;
}

export function makeHarness(options: {
  registry: DeviceRegistry;
  now: () => number;
  config?: Partial<DeploymentConfigInput>;
  geo?: GeolocateDeps;
  fleetKey?: KeyObject;
  fleetPublicKeys?: string[];
  /**
   * The admission limiter's table client. Without it admission is off unless the test's config
   * turns it on: most tests send many requests within one second of their fixed clock.
   */
  admissionClient?: DynamoDBClient;
}): Harness {
  const config = parseDeploymentConfig({
    homeRegion: 'us-east-1',
    regions: ALL_TEST_REGIONS,
    defaultRegion: 'us-east-1',
    ...(options.admissionClient === undefined ? { admission: { enabled: false } } : {}),
    ...options.config,
  });
  const fleet = options.fleetKey
    ? { privateKey: options.fleetKey, publicPem: '' }
    : (() => {
        const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        return { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
      })();
  const ticketPair = generateKeyPairSync('ed25519');
  const recorded = new RecordedInvocations();
  const handler = createBootstrapHandler(
    createBootstrapDeps({
      config,
      registry: options.registry,
      fleetPublicKeys: options.fleetPublicKeys ?? [fleet.publicPem],
      signer: ed25519Signer('test-key-1', ticketPair.privateKey),
      describeEndpoint: async (region) => `abc123-ats.iot.${region}.amazonaws.com`,
      geo: options.geo ?? {},
      record: recorded.record,
      // While admission is off this client is never used; were it used, nothing answers there.
      admissionClient: options.admissionClient ?? UNREACHABLE_DYNAMO,
      now: options.now,
      drainingCacheMs: 0,
    }),
  );
  return {
    handler,
    config,
    fleetKey: fleet.privateKey,
    ticketKeys: parseTicketPublicKeys({
      'test-key-1': ticketPair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }),
    recorded,
  };
}

/** An API Gateway HTTP API (payload 2.0) event, as API Gateway sends it. */
export function httpApiEvent(
  body: unknown,
  options: { sourceIp?: string; headers?: Record<string, string>; method?: string; rawBody?: string } = {},
): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /bootstrap',
    rawPath: '/bootstrap',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: {
      accountId: '111111111111',
      apiId: 'api123',
      domainName: 'api123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'api123',
      http: {
        method: options.method ?? 'POST',
        path: '/bootstrap',
        protocol: 'HTTP/1.1',
        sourceIp: options.sourceIp ?? '198.51.100.7',
        userAgent: 'device/1.0',
      },
      requestId: randomUUID(),
      routeKey: 'POST /bootstrap',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: options.rawBody ?? JSON.stringify(body),
    isBase64Encoded: false,
  };
}

export function parseAnswer(result: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(String(result.body)) as Record<string, unknown>;
}
