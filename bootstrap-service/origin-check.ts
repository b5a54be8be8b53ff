import { createHash, timingSafeEqual } from 'node:crypto';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { createRequestHandler } from '@global-iot/core/aws-clients.js';
import { SECRETS_CLIENT_OPTIONS, secretBacked, SecretNotText } from './secrets.js';

/**
 * The origin check of the bootstrap API when CloudFront is in front of it (infra/README.md,
 * "Stable names and the edge"). HTTP APIs take no resource policy and no WAF, so nothing else
 * stops a caller from going around the distribution, and with it around WAF's rate limit and
 * CloudFront's viewer headers, which the bootstrap then trusts. CloudFront adds a secret header
 * to every request it forwards; this Lambda authorizer (payload 2.0, simple responses) lets a
 * request through only with that header's current or previous value. API Gateway itself refuses a
 * request without the header (401) before invoking anything.
 */

/** The service name in the origin check's log lines, unless POWERTOOLS_SERVICE_NAME says otherwise. */
export const ORIGIN_CHECK_SERVICE_NAME = 'bootstrap-origin-check';

/** The header CloudFront adds to every request it forwards to the API. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';

/** What an HTTP API passes a REQUEST authorizer (payload 2.0); header names arrive in lower case. */
const authorizerEventSchema = z.object({
  headers: z.record(z.string(), z.string()).nullish(),
});

/** Equal strings, in a time that says nothing about where they differ or how long the secret is. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The authorizer: `{ isAuthorized: true }` only for a request that carries one of the accepted
 * values. A malformed event, a missing header or an empty list of values is a refusal.
 */
export function createOriginCheck(acceptedValues: () => Promise<readonly string[]>): (event: unknown) => Promise<{ isAuthorized: boolean }> {
  return async (event) => {
    const parsed = authorizerEventSchema.safeParse(event);
    const given = parsed.success ? parsed.data.headers?.[ORIGIN_VERIFY_HEADER] : undefined;
    if (given === undefined || given === '') return { isAuthorized: false };
    const accepted = await acceptedValues();
    // Every value is compared, so the answer's time does not say which one matched.
    const matches = accepted.map((value) => value !== '' && sameSecret(given, value));
    return { isAuthorized: matches.includes(true) };
  };
}

/** The secret's stages the check accepts: the value CloudFront sends, and the one before a rotation. */
export const ACCEPTED_STAGES = ['AWSCURRENT', 'AWSPREVIOUS'] as const;

export interface OriginSecretSource {
  /** The secret's name or ARN. */
  readonly secretId: string;
  /** Where the secret lives (the edge stack's region). */
  readonly region: string;
  readonly maxAgeSeconds: number;
}

/**
 * The secret's current and previous values, read through Powertools' cache and kept when a read
 * fails (the last good values stay in use). A secret with no previous version yet gives one value.
 */
export function originSecretValues(source: OriginSecretSource, onStale: (error: unknown) => void): () => Promise<readonly string[]> {
  const client = new SecretsManagerClient({
    region: source.region,
    maxAttempts: SECRETS_CLIENT_OPTIONS.maxAttempts,
    requestHandler: createRequestHandler(SECRETS_CLIENT_OPTIONS),
  });
  // One provider per stage: Powertools caches by secret name alone, so one provider would answer
  // the previous stage with the current value from its cache.
  const providers = new Map(ACCEPTED_STAGES.map((stage) => [stage, new SecretsProvider({ awsSdkV3Client: client })]));
  const read = async (stage: (typeof ACCEPTED_STAGES)[number]): Promise<string | undefined> => {
    try {
      const value = await providers.get(stage)?.get(source.secretId, { maxAge: source.maxAgeSeconds, sdkOptions: { VersionStage: stage } });
      if (typeof value !== 'string') throw new SecretNotText(`secret ${source.secretId} holds no string value`);
      return value;
    } catch (error) {
      // Before the first rotation there is no AWSPREVIOUS version: nothing to accept there.
      if (stage === 'AWSPREVIOUS' && error instanceof Error && /ResourceNotFound/.test(`${error.name} ${String(error.cause)}`)) return undefined;
      throw error;
    }
  };
  return secretBacked(
    async () => JSON.stringify(await Promise.all(ACCEPTED_STAGES.map(read))),
    // A stage not found is stored as null; while the current value is still cached, the previous
    // stage can already answer with that same value.
    (text) => [...new Set((JSON.parse(text) as (string | null)[]).filter((value): value is string => typeof value === 'string'))],
    onStale,
  );
}
