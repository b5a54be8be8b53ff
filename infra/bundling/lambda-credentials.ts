import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * What the Lambda bundles get for `@aws-sdk/credential-provider-node` (ProvisioningFunction
 * aliases it here). Every AWS client's runtime configuration imports that module's
 * `defaultProvider`, the whole default chain: SSO, STS, web identity, ini files, processes, the
 * instance metadata service, and @aws-sdk/nested-clients for the STS and SSO calls: about 130 KB of minified code
 * that each cold start compiles. On Lambda the chain never gets past its first link: the runtime
 * puts the function role's credentials in the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). This provider is that first link alone. An export
 * the bundled SDK imports and this module lacks fails the build, never a request.
 */

type Init = Parameters<typeof fromEnv>[0];
type Credentials = Awaited<ReturnType<ReturnType<typeof fromEnv>>>;

/** AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is missing: outside Lambda, or a broken environment. */
export class LambdaCredentialsMissingError extends Error {
  override name = 'LambdaCredentialsMissingError';
}

/** The credential provider of every AWS client in the bundles: the function's environment. */
export function defaultProvider(init?: Init): () => Promise<Credentials> {
  const env = fromEnv(init);
  return async () => {
    try {
      return await env();
    } catch (cause) {
      throw new LambdaCredentialsMissingError(
        'no AWS credentials in the environment: the Lambda bundles read only AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, which the Lambda runtime sets (no profiles, SSO or instance metadata)',
        { cause },
      );
    }
  };
}

/** As the real module's: credentials that carry an expiration are refreshed. */
export const credentialsWillNeedRefresh = (credentials: Credentials): boolean => credentials.expiration !== undefined;

/** As the real module's: credentials with less than five minutes left count as expired. */
export const credentialsTreatedAsExpired = (credentials: Credentials): boolean =>
  credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
