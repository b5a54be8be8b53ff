import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { createHookHandler, logJsonLine } from './app.js';
import { HOOK_DYNAMO_CLIENT_OPTIONS, readHookSettings } from './settings.js';

/**
 * AWS Lambda entry point of the pre-provisioning hook, one per IoT region. Settings are read
 * once per container: a missing or invalid one fails the cold start, which IoT reports as
 * ACCESS_DENIED, so a misconfigured hook denies rather than guesses.
 */
const settings = readHookSettings(process.env);

const registry = new DeviceRegistry({
  client: getDynamoClient({
    region: settings.registryRegion,
    ...(settings.dynamoEndpoint ? { endpoint: settings.dynamoEndpoint } : {}),
    ...HOOK_DYNAMO_CLIENT_OPTIONS,
  }),
  tableName: settings.tableName,
});

export const handler = createHookHandler({
  registry,
  ticketKeys: settings.ticketKeys,
  now: Date.now,
  settings: settings.hook,
  log: logJsonLine,
});
