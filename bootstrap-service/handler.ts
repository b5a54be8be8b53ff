/**
 * AWS Lambda entry point of the bootstrap service (API Gateway HTTP API). Settings are read once
 * per cold start and fail loudly (settings.ts lists them); the decision lives in app.ts and
 * bootstrap.ts. The ticket key is read before the first request, so a placeholder secret fails
 * the cold start rather than a device's request.
 */
import type { Context } from 'aws-lambda';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { describeEndpointFromTable } from '@global-iot/core/endpoints.js';
import { describeError } from '@global-iot/core/errors.js';
import { openGeoTable } from '@global-iot/core/geo/file-table.js';
import { createLambdaTelemetry } from '@global-iot/core/lambda-telemetry.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { createBootstrapDeps, createBootstrapHandler } from './app.js';
import { type GeolocateDeps, ipstackProvider } from './geolocate.js';
import { apiKeyFromSecret, secretsManagerReader, ticketSignerFromSecret } from './secrets.js';
import { type BootstrapSettings, readBootstrapSettings } from './settings.js';

const settings = readBootstrapSettings(process.env);
const telemetry = createLambdaTelemetry(settings.telemetry);
const readSecret = secretsManagerReader({ region: settings.region, maxAgeSeconds: settings.secretCacheSeconds });

/** A refresh that failed leaves the last good value in use; the operator sees why. */
const onStale = (secret: string) => (error: unknown) =>
  telemetry.logger.warn('secret refresh failed: the last good value stays in use', { secret, error: describeError(error) });

const signer = ticketSignerFromSecret(() => readSecret(settings.ticketSecretArn), onStale('ticket signing key'));
await signer.currentKey();

function geolocation(s: BootstrapSettings): GeolocateDeps {
  // Only the table's index is read here; each lookup reads its few bytes of the file (file-table.ts).
  const table = openGeoTable(s.geoTablePath);
  const lookup: GeolocateDeps['lookup'] = (ip) => table.lookup(ip);
  const provider = s.config.geoProvider;
  const key = s.geoApiKey;
  if (provider === undefined || key === undefined) return { lookup };
  const apiKey = 'value' in key ? key.value : apiKeyFromSecret(() => readSecret(key.secretArn), onStale('geolocation provider key'));
  return {
    lookup,
    provider: ipstackProvider({ url: provider.url, apiKey, timeoutMs: provider.timeoutMs }),
    onProviderError: (error) => telemetry.logger.warn('geolocation provider failed: location unknown', { error: describeError(error) }),
  };
}

// One client for the registry and the admission limiter's table, both in the home region.
const dynamo = getDynamoClient({ region: settings.region, ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}) });

const handle = createBootstrapHandler(
  createBootstrapDeps({
    config: settings.config,
    registry: new DeviceRegistry({ client: dynamo, tableName: settings.tableName }),
    admissionClient: dynamo,
    fleetPublicKeys: settings.fleetPublicKeys,
    signer,
    // Looked up at deploy by the home stack (settings.ts); custom domains come from endpointOverrides.
    describeEndpoint: describeEndpointFromTable(settings.dataEndpoints),
    geo: geolocation(settings),
    record: telemetry.record,
  }),
);

export async function handler(event: unknown, context: Context) {
  // The Lambda request id (function_request_id), cold start and function name on every line.
  telemetry.logger.addContext(context);
  return handle(event);
}
