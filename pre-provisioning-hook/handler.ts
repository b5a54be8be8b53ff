import type { Context } from 'aws-lambda';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { createLambdaTelemetry } from '@global-iot/core/lambda-telemetry.js';
import type { HookResponse } from '@global-iot/core/provisioning-params.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { createHookHandler } from './app.js';
import { HOOK_DYNAMO_CLIENT_OPTIONS, readHookSettings } from './settings.js';

/**
 * AWS Lambda entry point of the pre-provisioning hook, one per IoT region. Settings are read
 * once per container: a missing or invalid one fails the cold start, which IoT reports as
 * ACCESS_DENIED, so a misconfigured hook denies rather than guesses.
 */
const settings = readHookSettings(process.env);
const telemetry = createLambdaTelemetry(settings.telemetry);

const registry = new DeviceRegistry({
  client: getDynamoClient({
    region: settings.registryRegion,
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
    ...HOOK_DYNAMO_CLIENT_OPTIONS,
  }),
  tableName: settings.tableName,
});

const decide = createHookHandler({
  registry,
  ticketKeys: settings.ticketKeys,
  now: Date.now,
  settings: settings.hook,
  record: telemetry.record,
});

export async function handler(event: unknown, context: Context): Promise<HookResponse> {
  // The Lambda request id (function_request_id), cold start and function name on every line.
  telemetry.logger.addContext(context);
  return decide(event);
}
