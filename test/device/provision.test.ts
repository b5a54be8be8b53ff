import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BootstrapAnswer } from '@global-iot/device/bootstrap-client.js';
import {
  AwsRejected,
  BootstrapRejected,
  BootstrapUnavailable,
  InvalidAwsAnswer,
  InvalidBootstrapAnswer,
  MqttRequestFailed,
  StepFailed,
} from '@global-iot/device/errors.js';
import { generateKeyAndCsr, KeyMismatch } from '@global-iot/device/keys.js';
import type { CreatedCertificate, IdentitySession, MqttTransport } from '@global-iot/device/mqtt.js';
import { type CertificateMode, isRetryableRegistration, parseEndpoint, provisionDevice, toEventError } from '@global-iot/device/provision.js';
import type { DeviceCredentials, DeviceStore, RegisteredState } from '@global-iot/device/store.js';
import { createCertificateAuthority, generateDeviceKey, issueClientCertificate, verifyCsr } from '@global-iot/local/pki.js';
import { bootstrapAnswer } from './support/answer.js';

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

describe('the certificate AWS IoT answers with', () => {
  const ca = createCertificateAuthority({ commonName: 'test device CA' }, new Date());

  /** What the fake AWS IoT does to its answer before sending it. */
  type Answer = 'honest' | 'another key' | 'another id' | 'upper-case id' | 'not a certificate' | 'not a key';

  /** AWS IoT's side of the session: issues what the device asks for, then spoils it as told. */
  function session(answer: Answer): IdentitySession {
    const spoil = async (created: CreatedCertificate & { privateKeyPem: string }): Promise<CreatedCertificate> => {
      switch (answer) {
        case 'honest':
          return created;
        case 'another key': {
          const other = await generateDeviceKey('ec-p256');
          const issued = issueClientCertificate(ca, other.spki, new Date());
          return { ...created, certificatePem: issued.certificatePem, certificateId: issued.certificateId };
        }
        case 'another id':
          return { ...created, certificateId: 'ab'.repeat(32) };
        case 'upper-case id':
          return { ...created, certificateId: created.certificateId.toUpperCase() };
        case 'not a certificate':
          return { ...created, certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' };
        case 'not a key':
          return { ...created, privateKeyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' };
      }
    };
    return {
      async createCertificateFromCsr(csrPem) {
        const issued = issueClientCertificate(ca, verifyCsr(csrPem).spki, new Date());
        const { privateKeyPem: _none, ...rest } = await spoil({ ...issued, certificateOwnershipToken: 'token', privateKeyPem: '' });
        return rest;
      },
      async createKeysAndCertificate() {
        const key = await generateDeviceKey('ec-p256');
        const issued = issueClientCertificate(ca, key.spki, new Date());
        return spoil({ ...issued, certificateOwnershipToken: 'token', privateKeyPem: key.privateKeyPem });
      },
      async registerThing() {
        return { deviceConfiguration: {} };
      },
      async close() {},
    };
  }

  async function provision(mode: CertificateMode, answer: Answer) {
    const saved: { state: RegisteredState; credentials: DeviceCredentials }[] = [];
    const store: DeviceStore = {
      load: async () => undefined,
      saveBootstrapped: async () => undefined,
      saveRegistered: async (state, credentials) => void saved.push({ state, credentials }),
      saveConfirmed: async () => undefined,
      savePending: async () => undefined,
      switchToPending: async () => undefined,
    };
    const transport: MqttTransport = {
      openIdentitySession: async () => session(answer),
      openDeviceSession: async () => Promise.reject(new Error('a first boot never opens a device session')),
      checkConnection: async () => undefined,
      publishAcknowledged: async () => undefined,
    };
    const answered: BootstrapAnswer = bootstrapAnswer({ ticketExpiresAt: new Date(Date.now() + 60_000).toISOString() });
    const outcome = await provisionDevice(
      { thingName: 'sensor-1', signingKey: generateKeyPairSync('ed25519').privateKey, claim: { certificatePem: 'claim', privateKeyPem: 'claim' } },
      { certificateMode: mode },
      { store, bootstrap: async () => answered, transport, generateKeyAndCsr, now: Date.now, onEvent: () => undefined },
    ).catch((error: unknown) => error);
    return { outcome, saved };
  }

  describe.each(['csr', 'keys'] as const)('with %s', (mode) => {
    it('is stored when it is for the key and is the certificate AWS names', async () => {
      // Act
      const { outcome, saved } = await provision(mode, 'honest');

      // Assess
      expect(outcome).toMatchObject({ outcome: 'provisioned', certificateId: saved[0]?.state.certificateId });
      expect(saved).toHaveLength(1);
    });

    it("is taken when AWS writes the id in upper case, and stored in AWS's lower case", async () => {
      // Act
      const { saved } = await provision(mode, 'upper-case id');

      // Assess
      expect(saved[0]?.state.certificateId).toMatch(/^[0-9a-f]{64}$/);
    });

    it.each([
      ['is for another key', 'another key', KeyMismatch, 'not for this private key'],
      ['is not the certificate AWS names', 'another id', InvalidAwsAnswer, 'is not certificate'],
      ['is not a certificate', 'not a certificate', KeyMismatch, 'not a valid PEM X.509 certificate'],
    ] as const)('is refused, and nothing stored, when it %s', async (_label, answer, errorClass, words) => {
      // Act
      const { outcome, saved } = await provision(mode, answer);

      // Assess
      expect(outcome).toBeInstanceOf(StepFailed);
      expect((outcome as StepFailed).step).toBe('create-certificate');
      expect((outcome as StepFailed).cause).toBeInstanceOf(errorClass);
      expect((outcome as StepFailed).message).toContain(words);
      expect(saved).toEqual([]);
    });
  });

  it('is refused, and nothing stored, when the private key AWS sent is not a key', async () => {
    // Act
    const { outcome, saved } = await provision('keys', 'not a key');

    // Assess
    expect((outcome as StepFailed).cause).toBeInstanceOf(KeyMismatch);
    expect((outcome as StepFailed).message).toContain('not a valid PEM private key');
    expect(saved).toEqual([]);
  });
});
