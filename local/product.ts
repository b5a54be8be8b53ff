import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localDynamoClient } from './dynamodb.js';
import { parseDeploymentConfig, type DeploymentConfig } from '@global-iot/core/config.js';
import { CONFIRMATION_RULE_SQL } from '@global-iot/core/confirmation.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { provisioningTemplateArn } from '@global-iot/core/provisioning-params.js';
import { ensureAdmissionTable } from '@global-iot/core/admission/table.js';
import { ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { readProductTemplate, readRotationTemplate } from '@global-iot/core/template/index.js';
import { type CloudContext, type CloudWiring, DEFAULT_TEMPLATE_NAME } from './cloud.js';
import { startFunctionsThread } from './functions-thread.js';
import type { LambdaPermission } from './lambda-policy.js';
import type { AwsQuotas } from './iot/quotas.js';
import type { Logger } from './log.js';
import { type ProductFunctions, type ProductFunctionSettings, productFunctions } from './product-functions.js';

/**
 * The product on the local cloud: the real bootstrap handler behind the local API, the real
 * pre-provisioning hook and confirmation handler (behind the confirmation rule) in every region,
 * the project's fleet template, and the registry table in dynalite. Keys the devices need (the fleet signing key) and keys the
 * services share (the ticket key) are created once in `keysDir` and reused.
 */

export const HOOK_FUNCTION_NAME = 'pre-provisioning-hook';
export const CONFIRM_FUNCTION_NAME = 'provisioning-confirmation';
export const TICKET_KEY_ID = 'local-1';
/** The product's Lambda functions, registered in every region. */
export const PRODUCT_FUNCTION_NAMES = [HOOK_FUNCTION_NAME, CONFIRM_FUNCTION_NAME] as const;

export interface ProductOptions {
  /** Where the fleet signing key and the ticket key are kept. */
  keysDir: string;
  /**
   * The deployment configuration the functions run with (`--config`); its regions must be the
   * emulated ones. Without it: every emulated region, the first one home and default, the
   * schema's defaults otherwise, and `templateName`/`tableName` below.
   */
  config?: DeploymentConfig;
  templateName?: string;
  tableName?: string;
  /** More SPKI PEM keys devices may sign with, besides the fleet key made here. */
  fleetPublicKeys?: readonly string[];
  /** Use the offline geolocation table (built by `npm run geo:build`) when present. */
  geolocation?: boolean;
  /**
   * Run the product's functions on threads of their own (default false): the bootstrap API's on
   * one, the ones AWS IoT invokes (hook, confirmation) on another. As deployed, where each is a
   * service that scales on its own, they then share no event loop with the emulated IoT, and a
   * burst of bootstrap requests (their DynamoDB calls queued on one client) cannot hold a hook
   * past its deadline. Their clock is then the real one, whatever the cloud's `now` is.
   */
  functionsThread?: boolean;
  log: Logger;
}

export interface ProductKeys {
  /** PKCS#8 PEM of the fleet's bootstrap signing key: devices sign their requests with it. */
  readonly fleetSigningKeyPath: string;
  readonly fleetPublicKeyPath: string;
}

async function loadOrCreateKey(path: string, create: () => KeyObject): Promise<KeyObject> {
  try {
    return createPrivateKey(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = create();
  await writeFile(path, key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  return key;
}

export function productKeyPaths(keysDir: string): ProductKeys {
  return { fleetSigningKeyPath: join(keysDir, 'fleet-signing.key'), fleetPublicKeyPath: join(keysDir, 'fleet-signing.pub.pem') };
}

/**
 * The configuration without a file: every emulated region, the first one home and default.
 * Admission follows the emulated IoT: with AWS's quotas on, the ceiling is the emulated
 * RegisterThing quota times the safety factor, as deployed; without them RegisterThing has no
 * quota to keep under, and admission is off.
 */
export function defaultProductConfig(
  regions: readonly string[],
  options: {
    templateName?: string;
    tableName?: string;
    awsQuotas?: Pick<AwsQuotas, 'registerThingPerSecond'>;
    measuredChoice?: { marginMs?: number; marginRatio?: number };
  } = {},
): DeploymentConfig {
  const [homeRegion] = regions;
  if (!homeRegion) throw new ConfigError('the product needs at least one region');
  const { awsQuotas } = options;
  return parseDeploymentConfig({
    homeRegion,
    regions,
    defaultRegion: homeRegion,
    templateName: options.templateName ?? DEFAULT_TEMPLATE_NAME,
    ...(options.tableName ? { tableName: options.tableName } : {}),
    ...(options.measuredChoice ? { measuredChoice: options.measuredChoice } : {}),
    admission:
      awsQuotas === undefined
        ? { enabled: false }
        : { enabled: true, registerThingQuotaTps: Math.max(1, Math.floor(awsQuotas.registerThingPerSecond)) },
  });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The `wire` function for startLocalCloud. */
export function productWiring(options: ProductOptions): (context: CloudContext) => Promise<CloudWiring> {
  return async (context) => {
    const { log } = options;
    const dynamo = context.dynamo;
    if (!dynamo) throw new Error('the product needs the local DynamoDB');
    const regions = context.regions.map((r) => r.region);
    const config =
      options.config ??
      defaultProductConfig(regions, {
        ...(options.templateName ? { templateName: options.templateName } : {}),
        ...(options.tableName ? { tableName: options.tableName } : {}),
        ...(context.awsQuotas ? { awsQuotas: context.awsQuotas } : {}),
      });
    if (options.config && !sameSet(config.regions, regions)) {
      throw new ConfigError(`the configuration enables ${config.regions.join(', ')} but the local cloud runs ${regions.join(', ')}`);
    }

    await mkdir(options.keysDir, { recursive: true, mode: 0o700 });
    const paths = productKeyPaths(options.keysDir);
    const fleetKey = await loadOrCreateKey(paths.fleetSigningKeyPath, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const fleetPublicPem = createPublicKey(fleetKey).export({ type: 'spki', format: 'pem' }).toString();
    await writeFile(paths.fleetPublicKeyPath, fleetPublicPem);
    const ticketKey = await loadOrCreateKey(join(options.keysDir, 'ticket-signing.key'), () => generateKeyPairSync('ed25519').privateKey);

    const client = localDynamoClient(dynamo.endpoint, config.homeRegion);
    await ensureRegistryTable(client, config.tableName);
    if (config.admission.enabled) await ensureAdmissionTable(client, config.admission.tableName);
    const settings: ProductFunctionSettings = {
      config,
      dynamoEndpoint: dynamo.endpoint,
      fleetPublicKeys: [fleetPublicPem, ...(options.fleetPublicKeys ?? [])],
      ticketKeyId: TICKET_KEY_ID,
      ticketPrivateKeyPem: ticketKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ticketPublicKeys: { [TICKET_KEY_ID]: createPublicKey(ticketKey).export({ type: 'spki', format: 'pem' }).toString() },
      iotControlEndpoint: context.iotControlEndpoint,
      geolocation: options.geolocation ?? true,
    };
    let product: ProductFunctions;
    let stopThread = async (): Promise<void> => undefined;
    if (options.functionsThread) {
      // The IoT thread never answers a bootstrap request: it need not load the geolocation table too.
      const [api, iot] = await Promise.all([startFunctionsThread(settings, log), startFunctionsThread({ ...settings, geolocation: false }, log)]);
      product = { bootstrap: api.bootstrap, hook: iot.hook, confirm: (region) => iot.confirm(region) };
      stopThread = async () => {
        await Promise.all([api.close(), iot.close()]);
      };
    } else {
      product = productFunctions(settings, { client, log, now: context.now });
    }
    // Each function with the resource policy infra gives it: AWS IoT may invoke it, from this
    // account, for this region's template (the hook) or confirmation rule (the confirmation).
    const iotMay = (sid: string, sourceArn: string): LambdaPermission[] => [
      { sid, principal: 'iot.amazonaws.com', action: 'lambda:InvokeFunction', sourceAccount: context.accountId, sourceArn },
    ];
    const templateArn = (region: string, templateName: string): string => provisioningTemplateArn({ region, accountId: context.accountId, templateName });
    const functions = regions.flatMap((region) => [
      {
        region,
        name: HOOK_FUNCTION_NAME,
        timeoutSeconds: 5,
        handler: product.hook,
        // The same hook decides first provisionings and rotations (its rotation rules, by template name).
        permissions: [
          ...iotMay('InvokeByIotProvisioning', templateArn(region, config.templateName)),
          ...iotMay('InvokeByIotRotation', templateArn(region, config.lifecycle.rotationTemplateName)),
        ],
      },
      {
        region,
        name: CONFIRM_FUNCTION_NAME,
        handler: product.confirm(region),
        permissions: iotMay('InvokeByConfirmationRule', `arn:aws:iot:${region}:${context.accountId}:rule/${config.confirmationRuleName}`),
      },
    ]);

    return {
      policies: {
        claimClientIdPrefix: config.claimClientIdPrefix,
        legacyClaimClientIds: config.legacyClaimClientIds,
        confirmationRuleName: config.confirmationRuleName,
        rotationTemplateName: config.lifecycle.rotationTemplateName,
      },
      functions,
      templates: [
        { templateName: config.templateName, templateBody: readProductTemplate(), hookFunctionName: HOOK_FUNCTION_NAME },
        // Devices only, over their current certificate: the claim policy does not list it.
        { templateName: config.lifecycle.rotationTemplateName, templateBody: readRotationTemplate(), hookFunctionName: HOOK_FUNCTION_NAME, claimable: false },
      ],
      // The confirmation rule infra deploys: same name, same SQL (core/confirmation.ts).
      rules: [{ name: config.confirmationRuleName, sql: CONFIRMATION_RULE_SQL, functionName: CONFIRM_FUNCTION_NAME }],
      bootstrapHandler: product.bootstrap,
      dispose: async () => {
        await stopThread();
        client.destroy();
      },
    };
  };
}
