import * as z from 'zod';
import { type DeploymentConfig, deploymentConfigSchema, parseDeploymentConfig } from '@global-iot/core/config.js';
import { getIntFromEnv, getJsonFromEnv, getOptionalStringFromEnv, getStringFromEnv } from '@global-iot/core/env.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { resolveGeoTablePath } from '@global-iot/core/geo/table.js';
import { readTelemetrySettings, type TelemetrySettings } from '@global-iot/core/lambda-telemetry.js';

/**
 * The bootstrap function's settings, read from its environment once, at module load, by the
 * entry point (handler.ts); a function of `env` so that tests pass their own. A missing or invalid
 * setting fails the cold start with a message naming the variable.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** The service name in the bootstrap's log lines and metrics, unless POWERTOOLS_SERVICE_NAME says otherwise. */
export const BOOTSTRAP_SERVICE_NAME = 'bootstrap';

/**
 * How long a secret read from Secrets Manager is used before it is read again. A promoted ticket
 * key signs from the next read on, so this bounds how long old containers keep the old key; each
 * read is one GetSecretValue call per container.
 */
export const SECRET_CACHE_SECONDS = { default: 300, min: 10, max: 3600 } as const;

/**
 * The iot:Data-ATS endpoint of each enabled region, as JSON `{"<region>": "<host>"}`. The home
 * stack looks them up at deploy (they never change for an account and region), so the function
 * never calls DescribeEndpoint; a region with an `endpointOverrides` entry needs none.
 */
export const DATA_ENDPOINTS_VARIABLE = 'IOT_DATA_ENDPOINTS';

/** Where the optional geolocation provider's API key comes from. */
export type GeoApiKeySource = { readonly secretArn: string } | { readonly value: string };

export interface BootstrapSettings {
  readonly config: DeploymentConfig;
  /** The home region the function runs in (AWS_REGION, set by Lambda). */
  readonly region: string;
  readonly tableName: string;
  /** A local DynamoDB (dynalite); never set on AWS. */
  readonly dynamoEndpoint?: string;
  /** PEM public keys devices without a key of their own sign with. */
  readonly fleetPublicKeys: readonly string[];
  /** Each enabled region's iot:Data-ATS endpoint, unless `config.endpointOverrides` names one (DATA_ENDPOINTS_VARIABLE). */
  readonly dataEndpoints: Readonly<Record<string, string>>;
  /** Secrets Manager secret holding the ticket key as JSON {"kid", "privateKeyPem"}. */
  readonly ticketSecretArn: string;
  readonly secretCacheSeconds: number;
  readonly geoTablePath: string;
  /** Absent when no provider is configured or no key given: the table alone locates callers. */
  readonly geoApiKey?: GeoApiKeySource;
  readonly telemetry: TelemetrySettings;
}

function readRegion(env: Env): string {
  const value = getStringFromEnv({ key: 'AWS_REGION', env });
  if (!deploymentConfigSchema.shape.homeRegion.safeParse(value).success) {
    throw new ConfigError(`AWS_REGION must be an AWS region code, got '${value}'`);
  }
  return value;
}

function readGeoApiKey(env: Env): GeoApiKeySource | undefined {
  const secretArn = getOptionalStringFromEnv('IPSTACK_API_KEY_SECRET_ARN', env);
  if (secretArn !== undefined) return { secretArn };
  const value = getOptionalStringFromEnv('IPSTACK_API_KEY', env);
  return value === undefined ? undefined : { value };
}

/** Every enabled region needs an endpoint: from the deploy-time lookup or from endpointOverrides. */
function readDataEndpoints(env: Env, config: DeploymentConfig): Readonly<Record<string, string>> {
  const endpoints = getJsonFromEnv({
    key: DATA_ENDPOINTS_VARIABLE,
    parse: (value) => {
      const parsed = deploymentConfigSchema.shape.endpointOverrides.safeParse(value);
      if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; '));
      return parsed.data;
    },
    defaultValue: {},
    env,
  });
  const missing = config.regions.filter((region) => config.endpointOverrides[region] === undefined && endpoints[region] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      `${DATA_ENDPOINTS_VARIABLE} names no iot:Data-ATS endpoint for ${missing.join(', ')}, and endpointOverrides none either: the home stack looks one up for every enabled region at deploy; deploy it again`,
    );
  }
  return endpoints;
}

export function readBootstrapSettings(env: Env): BootstrapSettings {
  const config = getJsonFromEnv({ key: 'BOOTSTRAP_CONFIG', parse: (value) => parseDeploymentConfig(value), env });
  const dynamoEndpoint = getOptionalStringFromEnv('DYNAMODB_ENDPOINT', env);
  const geoApiKey = config.geoProvider === undefined ? undefined : readGeoApiKey(env);
  return {
    config,
    region: readRegion(env),
    tableName: getStringFromEnv({ key: 'REGISTRY_TABLE', defaultValue: config.tableName, env }),
    ...(dynamoEndpoint === undefined ? {} : { dynamoEndpoint }),
    fleetPublicKeys: getJsonFromEnv({ key: 'FLEET_PUBLIC_KEYS', parse: (value) => z.array(z.string().min(1)).parse(value), defaultValue: [], env }),
    dataEndpoints: readDataEndpoints(env, config),
    ticketSecretArn: getStringFromEnv({ key: 'TICKET_SIGNING_SECRET_ARN', env }),
    secretCacheSeconds: getIntFromEnv({
      key: 'SECRET_CACHE_SECONDS',
      defaultValue: SECRET_CACHE_SECONDS.default,
      min: SECRET_CACHE_SECONDS.min,
      max: SECRET_CACHE_SECONDS.max,
      env,
    }),
    geoTablePath: resolveGeoTablePath(env),
    ...(geoApiKey === undefined ? {} : { geoApiKey }),
    telemetry: readTelemetrySettings(env, { serviceName: BOOTSTRAP_SERVICE_NAME }),
  };
}
