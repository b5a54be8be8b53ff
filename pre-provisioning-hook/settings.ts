import * as z from 'zod';
import type { DynamoClientOptions } from '@global-iot/core/aws-clients.js';
import { claimClientIdPrefixSchema } from '@global-iot/core/claim-client-id.js';
import { deploymentConfigSchema, lifecycleSchema, reprovisionPolicySchema } from '@global-iot/core/config.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { readTelemetrySettings, type TelemetrySettings } from '@global-iot/core/lambda-telemetry.js';
import {
  getBoolFromEnv,
  getIntFromEnv,
  getJsonFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '@global-iot/core/env.js';
import { parseTicketPublicKeys, type TicketVerificationKeys } from '@global-iot/core/ticket.js';
import type { LifecycleDefaults } from '@global-iot/core/registry/index.js';
import type { HookSettings } from './hook.js';
import type { LifecycleEndpoints } from './lifecycle-clients.js';

/**
 * Settings of the two Lambda functions, read from their environment. Functions of `env` so that
 * the entry points read `process.env` once, at module load, and tests pass their own.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Service names in the functions' log lines and metrics, unless POWERTOOLS_SERVICE_NAME says otherwise. */
export const HOOK_SERVICE_NAME = 'pre-provisioning-hook';
export const CONFIRM_SERVICE_NAME = 'provisioning-confirmation';

/**
 * DynamoDB client settings for the hook, which reaches the table in the home region from every
 * region. `requestTimeoutMs` bounds a whole attempt (connect, TLS, request, answer): a cold
 * connection costs about 3 round trips and the slowest region pairs are about 330 ms apart.
 * Two attempts of 1.2 s plus the SDK's retry back-off (at most 200 ms before the second attempt)
 * end by 2.6 s when DynamoDB hangs; the hook's 2.5 s deadline answers first either way.
 */
export const HOOK_DYNAMO_CLIENT_OPTIONS = {
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 1_200,
  maxAttempts: 2,
} as const satisfies Omit<DynamoClientOptions, 'region'>;

/** What both functions read: where the registry is, and how they report. */
export interface RegistryLocation {
  /** Powertools' service name and metrics namespace. */
  telemetry: TelemetrySettings;
  tableName: string;
  /** The home region, where the one registry table lives. */
  registryRegion: string;
  /** A local DynamoDB (dynalite); absent on AWS. */
  dynamoEndpoint?: string;
}

export interface HookEnvSettings extends RegistryLocation {
  ticketKeys: TicketVerificationKeys;
  hook: HookSettings;
}

export interface ConfirmEnvSettings extends RegistryLocation {
  /** The region the confirmation function runs in (AWS_REGION, set by Lambda). */
  region: string;
  /** The deployment's lifecycle settings the registry applies when it completes a move or a rotation. */
  lifecycle: LifecycleDefaults;
  /** Local endpoints of the IoT APIs (IOT_ENDPOINT, IOT_DATA_ENDPOINT); absent on AWS. */
  endpoints: LifecycleEndpoints;
}

const ticketKeysJson = z.record(z.string(), z.string());

function getRegionFromEnv(key: string, env: Env): string {
  const value = getStringFromEnv({ key, env });
  if (!deploymentConfigSchema.shape.homeRegion.safeParse(value).success) {
    throw new ConfigError(`${key} must be an AWS region code, got '${value}'`);
  }
  return value;
}

function readRegistryLocation(env: Env, serviceName: string): RegistryLocation {
  const dynamoEndpoint = getOptionalStringFromEnv('DYNAMODB_ENDPOINT', env);
  return {
    telemetry: readTelemetrySettings(env, { serviceName }),
    tableName: getStringFromEnv({ key: 'REGISTRY_TABLE', env }),
    registryRegion: getRegionFromEnv('REGISTRY_REGION', env),
    ...(dynamoEndpoint ? { dynamoEndpoint } : {}),
  };
}

function getClaimClientIdPrefix(env: Env, defaultValue: string): string {
  const value = getStringFromEnv({ key: 'CLAIM_CLIENT_ID_PREFIX', defaultValue, env });
  const parsed = claimClientIdPrefixSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`CLAIM_CLIENT_ID_PREFIX: ${parsed.error.issues[0]?.message ?? 'invalid'}, got '${value}'`);
  return parsed.data;
}

function getRotationTemplateName(env: Env, defaultValue: string): string {
  const value = getStringFromEnv({ key: 'ROTATION_TEMPLATE_NAME', defaultValue, env });
  const parsed = lifecycleSchema.shape.rotationTemplateName.safeParse(value);
  if (!parsed.success) throw new ConfigError(`ROTATION_TEMPLATE_NAME: ${parsed.error.issues[0]?.message ?? 'invalid'}, got '${value}'`);
  return parsed.data;
}

export function readHookSettings(env: Env): HookEnvSettings {
  // Defaults and bounds come from the deployment configuration's schema, the one place they live.
  const attempts = deploymentConfigSchema.shape.maxProvisionAttempts;
  const prefix = deploymentConfigSchema.shape.claimClientIdPrefix;
  const legacy = deploymentConfigSchema.shape.legacyClaimClientIds;
  const rotationTemplate = lifecycleSchema.shape.rotationTemplateName;
  return {
    ...readRegistryLocation(env, HOOK_SERVICE_NAME),
    ticketKeys: getJsonFromEnv({
      key: 'TICKET_PUBLIC_KEYS',
      parse: (value) => parseTicketPublicKeys(ticketKeysJson.parse(value)),
      env,
    }),
    hook: {
      maxProvisionAttempts: intSetting(env, 'MAX_PROVISION_ATTEMPTS', attempts),
      claimClientIdPrefix: getClaimClientIdPrefix(env, prefix.parse(undefined)),
      legacyClaimClientIds: getBoolFromEnv({ key: 'LEGACY_CLAIM_CLIENT_IDS', defaultValue: legacy.parse(undefined), env }),
      rotationTemplateName: getRotationTemplateName(env, rotationTemplate.parse(undefined)),
    },
  };
}

/** A whole-number setting whose default and bounds are the deployment schema's, the one place they live. */
function intSetting(env: Env, key: string, schema: z.ZodDefault<z.ZodNumber>): number {
  const bounds = schema.unwrap();
  return getIntFromEnv({ key, defaultValue: schema.parse(undefined), min: bounds.minValue ?? 1, max: bounds.maxValue ?? Number.MAX_SAFE_INTEGER, env });
}

function readLifecycle(env: Env): LifecycleDefaults {
  const policy = getStringFromEnv({ key: 'REPROVISION_POLICY', defaultValue: lifecycleSchema.shape.reprovisionPolicy.parse(undefined), env });
  const parsed = reprovisionPolicySchema.safeParse(policy);
  if (!parsed.success) throw new ConfigError(`REPROVISION_POLICY must be one of ${reprovisionPolicySchema.options.join(', ')}, got '${policy}'`);
  return { defaultPolicy: parsed.data, historyLimit: intSetting(env, 'HISTORY_LIMIT', lifecycleSchema.shape.historyLimit) };
}

export function readConfirmSettings(env: Env): ConfirmEnvSettings {
  const iotEndpoint = getOptionalStringFromEnv('IOT_ENDPOINT', env);
  const iotDataEndpoint = getOptionalStringFromEnv('IOT_DATA_ENDPOINT', env);
  return {
    ...readRegistryLocation(env, CONFIRM_SERVICE_NAME),
    region: getRegionFromEnv('AWS_REGION', env),
    lifecycle: readLifecycle(env),
    endpoints: { ...(iotEndpoint ? { iotEndpoint } : {}), ...(iotDataEndpoint ? { iotDataEndpoint } : {}) },
  };
}
