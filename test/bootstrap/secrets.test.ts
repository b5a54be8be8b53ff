import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiKeyFromSecret, SECRET_RETRY_AFTER_FAILURE_MS, secretsManagerReader, ticketSignerFromSecret } from '@global-iot/bootstrap-service/secrets.js';
import { TicketSecretError } from '@global-iot/core/ticket.js';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../helpers/secrets-manager.js';

/** Secrets read through Powertools' SecretsProvider and the SDK, against a local Secrets Manager. */

const MAX_AGE_SECONDS = 10;
const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:ticket-key';

function ticketKeySecret(kid: string): string {
  const privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return JSON.stringify({ kid, privateKeyPem });
}

let sm: SecretsManagerStandIn;
beforeAll(async () => {
  sm = await startSecretsManagerStandIn();
  vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', sm.endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sm.close();
});
afterEach(() => {
  vi.useRealTimers();
  sm.failing = false;
});

/** A fresh reader (its own cache) and signer over the stand-in, with the clock under the test's control. */
function signerUnderTest(secretId: string) {
  vi.useFakeTimers({ toFake: ['Date'] });
  const stale: unknown[] = [];
  const read = secretsManagerReader({ region: 'us-east-1', maxAgeSeconds: MAX_AGE_SECONDS });
  const signer = ticketSignerFromSecret(() => read(secretId), (error) => stale.push(error));
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);
  const callsFor = () => sm.calls.length;
  return { signer, stale, advance, callsFor };
}

describe('the ticket key from Secrets Manager', () => {
  it('signs with a promoted key once the cache lifetime has passed, not before', async () => {
    // Prepare
    const id = `${ARN}-promote`;
    sm.set(id, ticketKeySecret('old-key'));
    const { signer, advance, callsFor } = signerUnderTest(id);
    const before = callsFor();
    const first = await signer.currentKey();

    // Act
    sm.set(id, ticketKeySecret('new-key'));
    const cached = await signer.currentKey();
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const promoted = await signer.currentKey();

    // Assess
    expect([first.kid, cached.kid, promoted.kid]).toEqual(['old-key', 'old-key', 'new-key']);
    expect(callsFor() - before).toBe(2);
  });

  it('keeps the last good key when a refresh fails, and waits before asking again', async () => {
    // Prepare
    const id = `${ARN}-outage`;
    sm.set(id, ticketKeySecret('good-key'));
    const { signer, stale, advance, callsFor } = signerUnderTest(id);
    await signer.currentKey();

    // Act
    sm.failing = true;
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const during = await signer.currentKey();
    const callsAfterFailure = callsFor();
    advance(SECRET_RETRY_AFTER_FAILURE_MS / 2);
    const quiet = await signer.currentKey();
    const callsWhileQuiet = callsFor() - callsAfterFailure;
    sm.failing = false;
    advance(SECRET_RETRY_AFTER_FAILURE_MS);
    const recovered = await signer.currentKey();

    // Assess
    expect([during.kid, quiet.kid, recovered.kid]).toEqual(['good-key', 'good-key', 'good-key']);
    expect(stale).toHaveLength(1);
    expect(callsWhileQuiet).toBe(0);
    expect(callsFor()).toBeGreaterThan(callsAfterFailure);
  });

  it('keeps the last good key when the secret is overwritten with something that is no key, and says so once', async () => {
    // Prepare
    const id = `${ARN}-bad-value`;
    sm.set(id, ticketKeySecret('good-key'));
    const { signer, stale, advance } = signerUnderTest(id);
    await signer.currentKey();

    // Act
    sm.set(id, 'not a ticket key');
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const first = await signer.currentKey();
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const second = await signer.currentKey();

    // Assess
    expect([first.kid, second.kid]).toEqual(['good-key', 'good-key']);
    expect(stale).toEqual([expect.any(TicketSecretError)]);
  });

  it('fails when there has never been a good key, as a placeholder secret at cold start', async () => {
    // Prepare
    const id = `${ARN}-placeholder`;
    sm.set(id, 'Xy7#random-placeholder');
    const { signer, stale } = signerUnderTest(id);

    // Act
    const act = signer.currentKey();

    // Assess
    await expect(act).rejects.toThrow(TicketSecretError);
    expect(stale).toEqual([]);
  });
});

describe('the geolocation provider key from Secrets Manager', () => {
  it('is the trimmed text, refused when empty', async () => {
    // Prepare
    const read = secretsManagerReader({ region: 'us-east-1', maxAgeSeconds: MAX_AGE_SECONDS });
    sm.set('geo-key', '  k-123\n');
    sm.set('geo-empty', '   ');

    // Act
    const key = await apiKeyFromSecret(() => read('geo-key'), () => undefined)();
    const empty = apiKeyFromSecret(() => read('geo-empty'), () => undefined)();

    // Assess
    expect(key).toBe('k-123');
    await expect(empty).rejects.toThrow(/empty/);
  });
});
