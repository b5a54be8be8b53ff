import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOriginCheck, ORIGIN_VERIFY_HEADER, originSecretValues } from '@global-iot/bootstrap-service/origin-check.js';
import { SECRET_RETRY_AFTER_FAILURE_MS } from '@global-iot/bootstrap-service/secrets.js';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../helpers/secrets-manager.js';

/**
 * The origin check (the API's Lambda authorizer with the edge on): the decision on its own, then
 * the accepted values read from a local Secrets Manager through the SDK, as on Lambda.
 */

const MAX_AGE_SECONDS = 10;
const SECRET_ID = 'GlobalIot/edge-origin-secret';

/** An HTTP API REQUEST authorizer event (payload 2.0), trimmed to what matters here. */
function authorizerEvent(headers?: Record<string, string>): Record<string, unknown> {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:us-east-1:111111111111:abcdef1234/$default/POST/bootstrap',
    identitySource: headers?.[ORIGIN_VERIFY_HEADER] === undefined ? [] : [headers[ORIGIN_VERIFY_HEADER]],
    routeKey: 'POST /bootstrap',
    ...(headers === undefined ? {} : { headers }),
  };
}

describe('the origin check', () => {
  const check = createOriginCheck(async () => ['current-secret-value', 'previous-secret-value']);

  it('lets through a request carrying the current or the previous value', async () => {
    // Act
    const current = await check(authorizerEvent({ [ORIGIN_VERIFY_HEADER]: 'current-secret-value' }));
    const previous = await check(authorizerEvent({ [ORIGIN_VERIFY_HEADER]: 'previous-secret-value' }));

    // Assess
    expect(current).toEqual({ isAuthorized: true });
    expect(previous).toEqual({ isAuthorized: true });
  });

  it.each([
    ['a wrong value', authorizerEvent({ [ORIGIN_VERIFY_HEADER]: 'guessed' })],
    ['a prefix of the value', authorizerEvent({ [ORIGIN_VERIFY_HEADER]: 'current-secret' })],
    ['an empty value', authorizerEvent({ [ORIGIN_VERIFY_HEADER]: '' })],
    ['no header', authorizerEvent({ 'content-type': 'application/json' })],
    ['no headers at all', authorizerEvent()],
    ['a malformed event', { headers: 'x-origin-verify: current-secret-value' }],
  ])('refuses %s', async (_label, event) => {
    // Act
    const answer = await check(event);

    // Assess
    expect(answer).toEqual({ isAuthorized: false });
  });

  it('refuses everything while no value is accepted', async () => {
    // Prepare
    const empty = createOriginCheck(async () => ['']);

    // Act
    const answer = await empty(authorizerEvent({ [ORIGIN_VERIFY_HEADER]: '' }));

    // Assess
    expect(answer).toEqual({ isAuthorized: false });
  });
});

describe('the accepted values, from Secrets Manager', () => {
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

  function valuesUnderTest(secretId: string) {
    vi.useFakeTimers({ toFake: ['Date'] });
    const stale: unknown[] = [];
    const values = originSecretValues({ secretId, region: 'us-east-1', maxAgeSeconds: MAX_AGE_SECONDS }, (error) => stale.push(error));
    const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);
    return { values, stale, advance };
  }

  it('accepts the one value of a secret never rotated', async () => {
    // Prepare
    const id = `${SECRET_ID}-new`;
    sm.set(id, 'first-value');
    const { values } = valuesUnderTest(id);

    // Act
    const accepted = await values();

    // Assess
    expect(accepted).toEqual(['first-value']);
  });

  it('accepts the new and the old value after a rotation, once the cache lifetime has passed', async () => {
    // Prepare
    const id = `${SECRET_ID}-rotated`;
    sm.set(id, 'old-value');
    const { values, advance } = valuesUnderTest(id);
    const before = await values();

    // Act
    sm.rotate(id, 'new-value');
    const cached = await values();
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const after = await values();

    // Assess
    expect(before).toEqual(['old-value']);
    expect(cached).toEqual(['old-value']);
    expect(after).toEqual(['new-value', 'old-value']);
  });

  it('keeps the last good values while Secrets Manager fails, and says so', async () => {
    // Prepare
    const id = `${SECRET_ID}-outage`;
    sm.set(id, 'good-value');
    const { values, stale, advance } = valuesUnderTest(id);
    await values();

    // Act
    sm.failing = true;
    advance(MAX_AGE_SECONDS * 1000 + 1);
    const during = await values();
    sm.failing = false;
    advance(SECRET_RETRY_AFTER_FAILURE_MS + 1);
    sm.rotate(id, 'next-value');
    const after = await values();

    // Assess
    expect(during).toEqual(['good-value']);
    expect(stale).toHaveLength(1);
    expect(after).toEqual(['next-value', 'good-value']);
  });

  it('fails when there is no good value yet, so API Gateway refuses the request', async () => {
    // Prepare
    const { values } = valuesUnderTest(`${SECRET_ID}-missing`);

    // Act
    const act = values();

    // Assess
    await expect(act).rejects.toThrow(/ResourceNotFound|can't find/);
  });
});
