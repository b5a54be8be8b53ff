import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  credentialsTreatedAsExpired,
  credentialsWillNeedRefresh,
  defaultProvider,
  LambdaCredentialsMissingError,
} from '@global-iot/infra/bundling/lambda-credentials.js';

/**
 * The credential provider the Lambda bundles carry instead of the SDK's default chain
 * (infra/bundling/lambda-credentials.ts): the environment Lambda sets, and nothing else.
 */

const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION', 'AWS_PROFILE'] as const;

function clearCredentials(): void {
  for (const key of CREDENTIAL_VARIABLES) vi.stubEnv(key, undefined);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('defaultProvider in the Lambda bundles', () => {
  it("resolves the function role's credentials from the environment, session token included", async () => {
    // Prepare
    clearCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');

    // Act
    const credentials = await defaultProvider()();

    // Assess
    expect(credentials).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' });
  });

  it('refuses, naming the variables, when the environment holds no credentials, even with a profile set', async () => {
    // Prepare: a profile the full chain would have read; the bundles never read profiles.
    clearCredentials();
    vi.stubEnv('AWS_PROFILE', 'developer');

    // Act
    const resolving = defaultProvider()();

    // Assess
    await expect(resolving).rejects.toBeInstanceOf(LambdaCredentialsMissingError);
    await expect(resolving).rejects.toThrow(/no AWS credentials in the environment: .*AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/);
  });

  it('refuses a key id without its secret', async () => {
    // Prepare
    clearCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');

    // Act
    const resolving = defaultProvider()();

    // Assess
    await expect(resolving).rejects.toBeInstanceOf(LambdaCredentialsMissingError);
  });

  it('treats credentials as the real module does: refreshed when they expire, expired five minutes early', () => {
    // Prepare
    const now = Date.now();
    const base = { accessKeyId: 'a', secretAccessKey: 's' };

    // Assess
    expect(credentialsWillNeedRefresh(base)).toBe(false);
    expect(credentialsWillNeedRefresh({ ...base, expiration: new Date(now + 3_600_000) })).toBe(true);
    expect(credentialsTreatedAsExpired(base)).toBe(false);
    expect(credentialsTreatedAsExpired({ ...base, expiration: new Date(now + 3_600_000) })).toBe(false);
    expect(credentialsTreatedAsExpired({ ...base, expiration: new Date(now + 60_000) })).toBe(true);
  });
});
