import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBootstrapDeps, createBootstrapHandler } from '@global-iot/bootstrap-service/app.js';
import type { GeolocateDeps } from '@global-iot/bootstrap-service/geolocate.js';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { describeEndpointViaIot } from '@global-iot/core/endpoints.js';
import { describeError } from '@global-iot/core/errors.js';
import { loadGeoTable } from '@global-iot/core/geo/index.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { loggingRecorder } from '@global-iot/core/lambda-telemetry.js';
import { ed25519Signer, parseTicketPublicKeys } from '@global-iot/core/ticket.js';
import { createConfirmHandler, createHookHandler } from '@global-iot/pre-provisioning-hook/app.js';
import { lifecycleClients } from '@global-iot/pre-provisioning-hook/lifecycle-clients.js';
import type { HttpApiHandler } from './bootstrap-server.js';
import type { Logger } from './log.js';

/**
 * The product's three functions as the local cloud runs them (the real bootstrap handler, the
 * real pre-provisioning hook, the real confirmation), built from plain data so that they can be
 * built on the cloud's thread or on a thread of their own (`functions-thread.ts`).
 */
export interface ProductFunctionSettings {
  readonly config: DeploymentConfig;
  readonly dynamoEndpoint: string;
  /** SPKI PEM keys devices without a key of their own sign with. */
  readonly fleetPublicKeys: readonly string[];
  readonly ticketKeyId: string;
  /** PKCS#8 PEM of the Ed25519 ticket key: in memory only, never logged. */
  readonly ticketPrivateKeyPem: string;
  /** Key id -> SPKI PEM: the keys the hook accepts tickets from. */
  readonly ticketPublicKeys: Readonly<Record<string, string>>;
  readonly iotControlEndpoint: string;
  /** Use the offline geolocation table (built by `npm run geo:build`) when present. */
  readonly geolocation: boolean;
}

export interface FunctionsContext {
  readonly client: DynamoDBClient;
  readonly log: Logger;
  readonly now?: () => number;
}

export type LambdaFunction = (event: unknown) => Promise<unknown>;

export interface ProductFunctions {
  readonly bootstrap: HttpApiHandler;
  /** The pre-provisioning hook: one handler serves every region (the region is in the event). */
  readonly hook: LambdaFunction;
  /** The confirmation function of `region`. */
  confirm(region: string): LambdaFunction;
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

export function productFunctions(settings: ProductFunctionSettings, context: FunctionsContext): ProductFunctions {
  const { config } = settings;
  const { log } = context;
  const now = context.now ?? Date.now;
  const registry = new DeviceRegistry({
    client: context.client,
    tableName: config.tableName,
    now,
    claimClientIdPrefix: config.claimClientIdPrefix,
    lifecycle: { defaultPolicy: config.lifecycle.reprovisionPolicy, historyLimit: config.lifecycle.historyLimit },
  });
  // The functions' records become lines of the cloud's log (on Lambda, Powertools writes them).
  const record = loggingRecorder(log);
  const bootstrap = createBootstrapHandler(
    createBootstrapDeps({
      config,
      registry,
      fleetPublicKeys: [...settings.fleetPublicKeys],
      signer: ed25519Signer(settings.ticketKeyId, settings.ticketPrivateKeyPem),
      describeEndpoint: describeEndpointViaIot({ endpoint: settings.iotControlEndpoint }),
      geo: geolocation(settings.geolocation, log),
      record,
      admissionClient: context.client,
      now,
    }),
  );
  const hook = createHookHandler({
    registry,
    ticketKeys: parseTicketPublicKeys({ ...settings.ticketPublicKeys }),
    now,
    settings: {
      maxProvisionAttempts: config.maxProvisionAttempts,
      claimClientIdPrefix: config.claimClientIdPrefix,
      legacyClaimClientIds: config.legacyClaimClientIds,
      rotationTemplateName: config.lifecycle.rotationTemplateName,
    },
    record,
  });
  // The control plane serves the data plane's HTTP API too: one endpoint for both, every region.
  const clients = lifecycleClients({ iotEndpoint: settings.iotControlEndpoint, iotDataEndpoint: settings.iotControlEndpoint });
  const confirmations = new Map<string, LambdaFunction>();
  return {
    bootstrap,
    hook,
    confirm(region) {
      let handler = confirmations.get(region);
      if (!handler) {
        handler = createConfirmHandler({ registry, region, record, clients });
        confirmations.set(region, handler);
      }
      return handler;
    },
  };
}
