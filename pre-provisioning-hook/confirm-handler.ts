import type { Context } from 'aws-lambda';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { createLambdaTelemetry } from '@global-iot/core/lambda-telemetry.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { createConfirmHandler } from './app.js';
import { lifecycleClients } from './lifecycle-clients.js';
import { readConfirmSettings } from './settings.js';

/**
 * AWS Lambda entry point of the confirmation, one per IoT region, invoked asynchronously by the
 * region's confirmation rule (Basic Ingest, core/confirmation.ts), once per provisioned device,
 * moved device and rotated certificate.
 * It has no 5 s limit to meet, so it keeps the client's default timeouts and retries.
 */
const settings = readConfirmSettings(process.env);
const telemetry = createLambdaTelemetry(settings.telemetry);

const registry = new DeviceRegistry({
  client: getDynamoClient({
    region: settings.registryRegion,
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
  }),
  tableName: settings.tableName,
  lifecycle: settings.lifecycle,
});

// Clients of every region, built on first use and kept: a move's completion reaches the region the device left.
const confirm = createConfirmHandler({ registry, region: settings.region, record: telemetry.record, clients: lifecycleClients(settings.endpoints) });

export async function handler(event: unknown, context: Context): Promise<{ confirmed: boolean }> {
  telemetry.logger.addContext(context);
  return confirm(event);
}
