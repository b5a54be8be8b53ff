import { describe, expect, it } from 'vitest';
import { AwsRejected, BootstrapRejected, BootstrapUnavailable, InvalidBootstrapAnswer, MqttRequestFailed, StepFailed } from '../../device/errors.js';
import { isRetryableRegistration, parseEndpoint, toEventError } from '../../device/provision.js';

describe('parseEndpoint', () => {
  it.each([
    ['abc-ats.iot.eu-west-1.amazonaws.com', 'abc-ats.iot.eu-west-1.amazonaws.com', 8883],
    ['localhost:41234', 'localhost', 41234],
  ])('reads %s', (address, host, port) => {
    // Act
    const target = parseEndpoint(address, 'eu-west-1', 8883);

    // Assess
    expect(target).toEqual({ region: 'eu-west-1', host, port });
  });

  it.each(['localhost:0', 'localhost:70000', 'https://x', 'a b', ''])('refuses %j', (address) => {
    // Act
    const act = () => parseEndpoint(address, 'eu-west-1', 8883);

    // Assess
    expect(act).toThrow(InvalidBootstrapAnswer);
  });
});

describe('toEventError', () => {
  it("keeps AWS IoT's rejection fields as received", () => {
    // Prepare
    const error = new StepFailed('register-thing', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'denied by the hook'));

    // Act
    const detail = toEventError(error);

    // Assess
    expect(detail).toEqual({ name: 'AwsRejected', status: 403, code: 'AccessDenied', message: 'AWS IoT rejected RegisterThing: 403 AccessDenied: denied by the hook' });
  });

  it.each([
    [new BootstrapRejected(409, 'ALREADY_PROVISIONED', 'reset first'), { status: 409, code: 'ALREADY_PROVISIONED' }],
    [new BootstrapUnavailable('gave up', 6, 503), { status: 503 }],
    [new Error('plain'), {}],
  ])('describes %s', (error, fields) => {
    // Act
    const detail = toEventError(new StepFailed('bootstrap', error));

    // Assess
    expect(detail).toMatchObject({ name: error.name, message: error.message, ...fields });
  });

  it('describes a thrown non-error', () => {
    // Act
    const detail = toEventError('boom');

    // Assess
    expect(detail).toEqual({ name: 'Error', message: 'boom' });
  });
});

describe('isRetryableRegistration', () => {
  it.each([
    ['register-thing', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'hook'), true],
    ['register-thing', new AwsRejected('RegisterThing', 429, 'ThrottlingException', 'slow down'), true],
    ['create-certificate', new AwsRejected('CreateCertificateFromCsr', 500, 'InternalError', 'x'), true],
    ['create-certificate', new MqttRequestFailed('no answer'), true],
    ['register-thing', new AwsRejected('RegisterThing', 400, 'InvalidParameters', 'x'), false],
    ['register-thing', new AwsRejected('RegisterThing', 404, 'ResourceNotFound', 'no template'), false],
    ['bootstrap', new BootstrapUnavailable('gave up', 6, 503), false],
    ['connect', new MqttRequestFailed('x'), false],
  ] as const)('%s failing with %s: %s', (step, cause, expected) => {
    // Act
    const retry = isRetryableRegistration(new StepFailed(step, cause));

    // Assess
    expect(retry).toBe(expected);
  });

  it('is false for an error without a step', () => {
    // Act
    const retry = isRetryableRegistration(new AwsRejected('RegisterThing', 403, 'AccessDenied', 'x'));

    // Assess
    expect(retry).toBe(false);
  });
});
