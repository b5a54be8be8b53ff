import { describe, expect, it } from 'vitest';
import { classifyConnectFailure } from '@global-iot/device/connect-failure.js';
import { AwsRejected, MqttConnectFailed, MqttRequestFailed } from '@global-iot/device/errors.js';
import { CONNECT_QUOTA_INTERVAL_MS, isThrottled, type ThrottlePolicy, throttleDelay, whileThrottled } from '@global-iot/device/throttle.js';

const connectFailed = (kind: MqttConnectFailed['kind']) => new MqttConnectFailed('localhost:8883 (eu-west-1)', 'x', undefined, kind);

describe('isThrottled', () => {
  it.each([
    ['RegisterThing 429', new AwsRejected('RegisterThing', 429, 'Throttled', 'Rate exceeded'), true],
    ['CreateCertificateFromCsr 429 with another code', new AwsRejected('CreateCertificateFromCsr', 429, 'TooManyRequests', 'x'), true],
    ['a throttling code without a status', new AwsRejected('CreateKeysAndCertificate', undefined, 'ThrottlingException', 'x'), true],
    ['a CONNECT refused as throttled', connectFailed('throttled'), true],
    ['a CONNECT ended without a reason', connectFailed('ended'), true],
    ['a hook denial (403)', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'denied by the hook'), false],
    ['an AWS-side error (500)', new AwsRejected('RegisterThing', 500, 'InternalError', 'x'), false],
    ['a malformed request (400)', new AwsRejected('RegisterThing', 400, 'InvalidParameters', 'x'), false],
    ['a CONNECT refused for another reason', connectFailed('refused'), false],
    ['an endpoint that does not answer', connectFailed('unreachable'), false],
    ['a request with no answer', new MqttRequestFailed('no answer'), false],
    ['anything else', new Error('boom'), false],
  ] as const)('%s: %s', (_label, error, expected) => {
    // Act
    const throttled = isThrottled(error);

    // Assess
    expect(throttled).toBe(expected);
  });
});

describe('classifyConnectFailure', () => {
  it.each([
    [{ reasonCode: 0x9f }, 'throttled'],
    [{ reasonCode: 0x97 }, 'throttled'],
    [{ reasonCode: 0x89 }, 'throttled'],
    [{ reasonCode: 0x87 }, 'refused'],
    [{ reasonCode: 0x8a, errorName: 'AWS_ERROR_MQTT5_CONNACK_CONNECTION_REFUSED' }, 'refused'],
    [{ errorName: 'AWS_ERROR_MQTT_PROTOCOL_ERROR' }, 'ended'],
    [{ errorName: 'AWS_IO_SOCKET_CLOSED' }, 'ended'],
    [{ errorName: 'AWS_ERROR_MQTT_UNEXPECTED_HANGUP' }, 'ended'],
    [{ errorName: 'AWS_IO_SOCKET_CONNECTION_REFUSED' }, 'unreachable'],
    [{ errorName: 'AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE' }, 'unreachable'],
    [{}, 'unreachable'],
  ] as const)('%j is %s', (failure, kind) => {
    // Act
    const classified = classifyConnectFailure(failure);

    // Assess
    expect(classified).toBe(kind);
  });
});

describe('throttleDelay', () => {
  const policy: ThrottlePolicy = { attempts: 10, baseBackoffMs: 100, maxBackoffMs: 1_000 };
  const throttled = new AwsRejected('RegisterThing', 429, 'Throttled', 'x');

  it('is full jitter under a ceiling that doubles up to the largest', () => {
    // Act
    const delays = [1, 2, 3, 4, 5].map((attempt) => throttleDelay(throttled, attempt, policy, () => 0.5));

    // Assess
    expect(delays).toEqual([50, 100, 200, 400, 500]);
  });

  it('is never below a second after a refused CONNECT (one CONNECT per second per client id)', () => {
    // Act
    const delays = [1, 5, 7].map((attempt) => throttleDelay(connectFailed('ended'), attempt, { ...policy, maxBackoffMs: 4_000 }, () => 0.5));

    // Assess
    expect(delays).toEqual([CONNECT_QUOTA_INTERVAL_MS, 1_000, 2_000]);
  });
});

describe('whileThrottled', () => {
  const policy: ThrottlePolicy = { attempts: 4, baseBackoffMs: 1_000, maxBackoffMs: 20_000 };

  /** A request that fails with each of `failures` in turn, then answers `ok`. */
  function scripted(failures: readonly Error[]) {
    let calls = 0;
    return {
      calls: () => calls,
      request: async () => {
        const failure = failures[calls];
        calls += 1;
        if (failure !== undefined) throw failure;
        return 'ok';
      },
    };
  }

  function clock() {
    const waits: number[] = [];
    const retries: { attempt: number; delayMs: number }[] = [];
    return {
      waits,
      retries,
      retry: {
        policy,
        sleep: async (ms: number) => void waits.push(ms),
        random: () => 0.75,
        onRetry: ({ attempt, delayMs }: { attempt: number; delayMs: number }) => void retries.push({ attempt, delayMs }),
      },
    };
  }

  it('sends a throttled request again after each back-off, and returns its answer', async () => {
    // Prepare
    const throttled = new AwsRejected('RegisterThing', 429, 'Throttled', 'x');
    const request = scripted([throttled, throttled]);
    const { waits, retries, retry } = clock();

    // Act
    const answer = await whileThrottled(request.request, retry);

    // Assess
    expect(answer).toBe('ok');
    expect(request.calls()).toBe(3);
    expect(waits).toEqual([750, 1_500]);
    expect(retries).toEqual([
      { attempt: 1, delayMs: 750 },
      { attempt: 2, delayMs: 1_500 },
    ]);
  });

  it('gives up after the allowed attempts with the last throttling', async () => {
    // Prepare
    const throttled = new AwsRejected('CreateCertificateFromCsr', 429, 'Throttled', 'x');
    const request = scripted(Array.from({ length: 10 }, () => throttled));
    const { waits, retry } = clock();

    // Act
    const error = await whileThrottled(request.request, retry).catch((e: unknown) => e);

    // Assess
    expect(error).toBe(throttled);
    expect(request.calls()).toBe(policy.attempts);
    expect(waits).toHaveLength(policy.attempts - 1);
  });

  it.each([
    ['a hook denial (403)', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'x')],
    ['a refused CONNECT', connectFailed('refused')],
    ['an endpoint that does not answer', connectFailed('unreachable')],
  ])('does not retry %s', async (_label, failure) => {
    // Prepare
    const request = scripted([failure]);
    const { waits, retry } = clock();

    // Act
    const error = await whileThrottled(request.request, retry).catch((e: unknown) => e);

    // Assess
    expect(error).toBe(failure);
    expect(request.calls()).toBe(1);
    expect(waits).toEqual([]);
  });
});
