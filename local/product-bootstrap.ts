import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBootstrapDeps, createBootstrapHandler } from '../bootstrap-service/app.js';
import type { GeolocateDeps } from '../bootstrap-service/geolocate.js';
import type { DeploymentConfig } from '../core/config.js';
import { describeEndpointViaIot } from '../core/endpoints.js';
import { describeError } from '../core/errors.js';
import { loadGeoTable } from '../core/geo/index.js';
import { DeviceRegistry } from '../core/registry/index.js';
import { ed25519Signer } from '../core/ticket.js';
import type { HttpApiHandler } from './bootstrap-server.js';
import type { Logger } from './log.js';

/**
 * The real bootstrap handler as the local cloud runs it, built from plain data so that it can
 * be built on the cloud's thread or on a thread of its own (`bootstrap-thread.ts`).
 */
export interface BootstrapSettings {
  readonly config: DeploymentConfig;
  readonly dynamoEndpoint: string;
  /** SPKI PEM keys devices without a key of their own sign with. */
  readonly fleetPublicKeys: readonly string[];
  readonly ticketKeyId: string;
  /** PKCS#8 PEM of the Ed25519 ticket key: in memory only, never logged. */
  readonly ticketPrivateKeyPem: string;
  readonly iotControlEndpoint: string;
  /** Use the offline geolocation table (built by `npm run geo:build`) when present. */
  readonly geolocation: boolean;
}

export interface BootstrapHandlerContext {
  readonly client: DynamoDBClient;
  readonly log: Logger;
  readonly now?: () => number;
}

function geolocation(enabled: boolean, log: Logger): GeolocateDeps {
  if (!enabled) return {};
  try {
    const table = loadGeoTable();
    return { lookup: (ip) => table.lookup(ip) };
  } catch (error) {
    log.warn('no geolocation table: every device goes to the default region (run npm run geo:build)', { error: describeError(error) });
    return {};
  }
}

export function productBootstrapHandler(settings: BootstrapSettings, context: BootstrapHandlerContext): HttpApiHandler {
  const { config } = settings;
  const { log } = context;
  const now = context.now ?? Date.now;
  return createBootstrapHandler(
    createBootstrapDeps({
      config,
      registry: new DeviceRegistry({ client: context.client, tableName: config.tableName, now }),
      fleetPublicKeys: [...settings.fleetPublicKeys],
      signer: ed25519Signer(settings.ticketKeyId, settings.ticketPrivateKeyPem),
      describeEndpoint: describeEndpointViaIot({ endpoint: settings.iotControlEndpoint }),
      geo: geolocation(settings.geolocation, log),
      log: (entry) => log.info('bootstrap', entry),
      now,
    }),
  );
}
