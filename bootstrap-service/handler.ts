/**
 * AWS Lambda entry point of the bootstrap service (API Gateway HTTP API). Settings are read once
 * per cold start and fail loudly; everything else lives in app.ts and bootstrap.ts.
 *
 * Environment:
 *   BOOTSTRAP_CONFIG            deployment configuration (JSON, core/config.ts)
 *   REGISTRY_TABLE              registry table name (default: the config's tableName)
 *   FLEET_PUBLIC_KEYS           JSON array of PEM public keys devices may sign with
 *   TICKET_SIGNING_SECRET_ARN   Secrets Manager secret {"kid", "privateKeyPem"} (Ed25519)
 *   GEO_DB_PATH                 geolocation table shipped in the bundle
 *   IPSTACK_API_KEY_SECRET_ARN  secret holding the key of the optional geolocation provider
 *   IPSTACK_API_KEY             the same key in plain text (local runs only)
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { describeEndpointViaIot } from '@global-iot/core/endpoints.js';
import { getJsonFromEnv, getOptionalStringFromEnv, getStringFromEnv } from '@global-iot/core/env.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { loadGeoTable } from '@global-iot/core/geo/table.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { ed25519Signer, parseTicketSigningSecret } from '@global-iot/core/ticket.js';
import { createBootstrapDeps, createBootstrapHandler } from './app.js';
import { ipstackProvider } from './geolocate.js';

const config = getJsonFromEnv({
  key: 'BOOTSTRAP_CONFIG',
  parse: (value) => parseDeploymentConfig(value),
});
const homeRegion = getStringFromEnv({ key: 'AWS_REGION' });
const tableName = getStringFromEnv({ key: 'REGISTRY_TABLE', defaultValue: config.tableName });
const fleetPublicKeys = getJsonFromEnv({ key: 'FLEET_PUBLIC_KEYS', parse: (v) => z.array(z.string()).parse(v), defaultValue: [] });
const dynamoEndpoint = getOptionalStringFromEnv('DYNAMODB_ENDPOINT');

const secrets = new SecretsManagerClient({ region: homeRegion });

async function readSecret(secretArn: string): Promise<string> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!out.SecretString) throw new ConfigError(`secret ${secretArn} has no string value`);
  return out.SecretString;
}

async function loadSigner() {
  const { kid, privateKey } = parseTicketSigningSecret(await readSecret(getStringFromEnv({ key: 'TICKET_SIGNING_SECRET_ARN' })));
  return ed25519Signer(kid, privateKey);
}

// Top-level await: the key is fetched once per cold start, before the first request.
const signer = await loadSigner();
const geoTable = loadGeoTable();
const apiKeySecretArn = getOptionalStringFromEnv('IPSTACK_API_KEY_SECRET_ARN');
const apiKey = apiKeySecretArn ? (await readSecret(apiKeySecretArn)).trim() : getOptionalStringFromEnv('IPSTACK_API_KEY');

export const handler = createBootstrapHandler(
  createBootstrapDeps({
    config,
    registry: new DeviceRegistry({
      client: getDynamoClient({ region: homeRegion, ...(dynamoEndpoint ? { endpoint: dynamoEndpoint } : {}) }),
      tableName,
    }),
    fleetPublicKeys,
    signer,
    describeEndpoint: describeEndpointViaIot(),
    geo: {
      lookup: (ip) => geoTable.lookup(ip),
      ...(config.geoProvider && apiKey
        ? { provider: ipstackProvider({ url: config.geoProvider.url, apiKey, timeoutMs: config.geoProvider.timeoutMs }) }
        : {}),
    },
  }),
);
