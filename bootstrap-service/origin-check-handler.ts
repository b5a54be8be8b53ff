/**
 * AWS Lambda entry point of the bootstrap API's origin check (a REQUEST authorizer, attached when
 * the CDK app puts CloudFront in front of the API). Settings are read once per cold start and
 * fail it loudly, naming the variable.
 */
import { getIntFromEnv, getStringFromEnv } from '@global-iot/core/env.js';
import { describeError } from '@global-iot/core/errors.js';
import { createLambdaTelemetry, readTelemetrySettings } from '@global-iot/core/lambda-telemetry.js';
import { createOriginCheck, ORIGIN_CHECK_SERVICE_NAME, originSecretValues } from './origin-check.js';
import { SECRET_CACHE_SECONDS } from './settings.js';

const env = process.env;
const { logger } = createLambdaTelemetry(readTelemetrySettings(env, { serviceName: ORIGIN_CHECK_SERVICE_NAME }));
const accepted = originSecretValues(
  {
    secretId: getStringFromEnv({ key: 'ORIGIN_SECRET_ID', env }),
    region: getStringFromEnv({ key: 'ORIGIN_SECRET_REGION', env }),
    maxAgeSeconds: getIntFromEnv({
      key: 'SECRET_CACHE_SECONDS',
      env,
      defaultValue: SECRET_CACHE_SECONDS.default,
      min: SECRET_CACHE_SECONDS.min,
      max: SECRET_CACHE_SECONDS.max,
    }),
  },
  (error) => logger.warn('origin secret refresh failed: the last good values stay in use', { error: describeError(error) }),
);

export const handler = createOriginCheck(accepted);
