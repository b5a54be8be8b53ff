import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BootstrapAnswer } from '@global-iot/device/bootstrap-client.js';
import { AwsRejected, MqttConnectFailed } from '@global-iot/device/errors.js';
import { generateKeyAndCsr } from '@global-iot/device/keys.js';
import type { IdentitySession, MqttTransport } from '@global-iot/device/mqtt.js';
import { type ProvisionEvent, type ProvisionOptions, provisionDevice } from '@global-iot/device/provision.js';
import type { DeviceStore } from '@global-iot/device/store.js';
import { bootstrapAnswer } from './support/answer.js';
import { createCertificateAuthority, generateDeviceKey, issueClientCertificate, verifyCsr } from '@global-iot/local/pki.js';

/**
 * The flow under AWS IoT's quotas, with a scripted AWS side and an injected clock: what is sent
 * again in place after a back-off (a throttled request, a refused CONNECT), and what is not (a
 * hook's denial).
 */

const ca = createCertificateAuthority({ commonName: 'throttle test CA' }, new Date());
const throttled = (operation: string) => new AwsRejected(operation, 429, 'Throttled', 'Rate exceeded');
const denied = () => new AwsRejected('RegisterThing', 403, 'AccessDenied', 'denied by the hook');
const connectEnded = () => new MqttConnectFailed('iot.example.test:8883 (eu-west-1)', 'Failed to connect', undefined, 'ended');

/** What AWS IoT answers, call by call: each list is used up in order, then every call succeeds. */
interface Script {
  claimConnect?: Error[];
  csr?: Error[];
  keys?: Error[];
  registerThing?: Error[];
  check?: Error[];
  confirm?: Error[];
}

function answer(): BootstrapAnswer {
  return bootstrapAnswer({ fallbacks: [{ region: 'eu-central-1', endpointAddress: 'iot.other.test' }] });
}

async function provision(
  script: Script,
  options: { certificateMode?: 'csr' | 'keys'; registerAttempts?: number; throttleAttempts?: number; deployment?: Pick<ProvisionOptions, 'claimClientIdPrefix' | 'confirmationRuleName'> } = {},
) {
  const calls = {
    bootstrap: 0,
    claimConnect: 0,
    claimClientIds: [] as string[],
    csr: [] as string[],
    keys: 0,
    registerThing: [] as string[],
    check: 0,
    confirm: [] as { clientId: string; topic: string; payload: string }[],
    keysMade: 0,
  };
  const next = (list: Error[] | undefined): void => {
    const failure = list?.shift();
    if (failure !== undefined) throw failure;
  };
  const session: IdentitySession = {
    async createCertificateFromCsr(csrPem) {
      calls.csr.push(csrPem);
      next(script.csr);
      return { ...issueClientCertificate(ca, verifyCsr(csrPem).spki, new Date()), certificateOwnershipToken: `token-${calls.csr.length}` };
    },
    async createKeysAndCertificate() {
      calls.keys += 1;
      next(script.keys);
      const key = await generateDeviceKey('ec-p256');
      return { ...issueClientCertificate(ca, key.spki, new Date()), certificateOwnershipToken: `token-${calls.keys}`, privateKeyPem: key.privateKeyPem };
    },
    async registerThing(_template, token) {
      calls.registerThing.push(token);
      next(script.registerThing);
      return { deviceConfiguration: {} };
    },
    async close() {},
  };
  const transport: MqttTransport = {
    async openIdentitySession(_target, clientId) {
      calls.claimConnect += 1;
      calls.claimClientIds.push(clientId);
      next(script.claimConnect);
      return session;
    },
    async openDeviceSession() {
      throw new Error('a first boot never opens a device session');
    },
    async checkConnection() {
      calls.check += 1;
      next(script.check);
    },
    async publishAcknowledged(_target, clientId, _credentials, topic, payload) {
      calls.confirm.push({ clientId, topic, payload });
      next(script.confirm);
    },
  };
  const store: DeviceStore = { load: async () => undefined, saveBootstrapped: async () => {}, saveRegistered: async () => {}, saveConfirmed: async () => {}, savePending: async () => {}, switchToPending: async () => {} };
  const events: ProvisionEvent[] = [];
  const waits: number[] = [];
  const outcome = await provisionDevice(
    { thingName: 'sensor-1', signingKey: generateKeyPairSync('ed25519').privateKey, claim: { certificatePem: 'claim', privateKeyPem: 'claim' } },
    {
      certificateMode: options.certificateMode ?? 'csr',
      registerAttempts: options.registerAttempts ?? 1,
      throttle: { attempts: options.throttleAttempts ?? 4, baseBackoffMs: 1_000, maxBackoffMs: 20_000 },
      ...options.deployment,
    },
    {
      store,
      bootstrap: async (makeBody) => {
        calls.bootstrap += 1;
        const preferred = makeBody()['preferred-region'];
        return preferred === undefined ? answer() : { ...answer(), region: preferred, endpointAddress: 'iot.other.test' };
      },
      transport,
      generateKeyAndCsr: async (thingName) => {
        calls.keysMade += 1;
        return generateKeyAndCsr(thingName);
      },
      now: Date.now,
      onEvent: (event) => events.push(event),
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    },
  ).catch((error: unknown) => error);
  const retries = events.filter((e) => e.status === 'retry').map((e) => ({ step: e.step, detail: e.detail, status: e.error?.status }));
  return { outcome, calls, retries, waits };
}

describe('the connections a device opens', () => {
  it("claims as <prefix><thing> and confirms once, as the thing, on the confirmation rule's Basic Ingest topic", async () => {
    // Act
    const defaults = await provision({});
    const custom = await provision({}, { deployment: { claimClientIdPrefix: 'claim_', confirmationRuleName: 'Confirm_2' } });

    // Assess
    expect(defaults.calls.claimClientIds).toEqual(['prov-sensor-1']);
    expect(defaults.calls.confirm).toEqual([{ clientId: 'sensor-1', topic: '$aws/rules/GlobalIotConfirmation/provisioning/confirm', payload: '{}' }]);
    expect(custom.calls.claimClientIds).toEqual(['claim_sensor-1']);
    expect(custom.calls.confirm).toEqual([{ clientId: 'sensor-1', topic: '$aws/rules/Confirm_2/provisioning/confirm', payload: '{}' }]);
    expect(defaults.calls.check).toBe(0);
  });
});

describe('a throttled fleet-provisioning request', () => {
  it('RegisterThing is sent again on the same connection, with the same certificate, after each back-off', async () => {
    // Act
    const { outcome, calls, retries, waits } = await provision({ registerThing: [throttled('RegisterThing'), throttled('RegisterThing')] });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned', regionsSkipped: [] });
    expect({ bootstrap: calls.bootstrap, claimConnect: calls.claimConnect, csr: calls.csr.length }).toEqual({ bootstrap: 1, claimConnect: 1, csr: 1 });
    expect(calls.registerThing).toEqual(['token-1', 'token-1', 'token-1']);
    expect(waits).toEqual([500, 1_000]);
    expect(retries).toEqual([
      { step: 'register-thing', status: 429, detail: { attempt: 1, delayMs: 500, throttled: true } },
      { step: 'register-thing', status: 429, detail: { attempt: 2, delayMs: 1_000, throttled: true } },
    ]);
  });

  it('CreateCertificateFromCsr is sent again with the same CSR: one key, made once', async () => {
    // Act
    const { outcome, calls, waits } = await provision({ csr: [throttled('CreateCertificateFromCsr')] });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned' });
    expect(calls.keysMade).toBe(1);
    expect(calls.csr).toHaveLength(2);
    expect(calls.csr[1]).toBe(calls.csr[0]);
    expect(waits).toEqual([500]);
  });

  it('CreateKeysAndCertificate is sent again', async () => {
    // Act
    const { outcome, calls } = await provision({ keys: [throttled('CreateKeysAndCertificate')] }, { certificateMode: 'keys' });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned' });
    expect(calls.keys).toBe(2);
  });

  it('fails, naming the step and the throttling, once the allowed attempts are used up', async () => {
    // Act
    const { outcome, calls, waits } = await provision({ registerThing: Array.from({ length: 5 }, () => throttled('RegisterThing')) }, { throttleAttempts: 3 });

    // Assess
    expect(outcome).toMatchObject({ name: 'StepFailed', step: 'register-thing', cause: { statusCode: 429 } });
    expect(calls.registerThing).toHaveLength(3);
    expect(waits).toHaveLength(2);
  });
});

describe("a hook's denial", () => {
  it('is not sent again as it was: the registration starts over from the bootstrap', async () => {
    // Act
    const { outcome, calls, retries } = await provision({ registerThing: [denied()] }, { registerAttempts: 2 });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned' });
    expect(calls.bootstrap).toBe(2);
    expect(calls.registerThing).toEqual(['token-1', 'token-2']);
    expect(retries).toEqual([{ step: 'register-thing', status: 403, detail: { attempt: 1, delayMs: 500 } }]);
  });

  it('ends the run when no registration try is left, with no throttling retry', async () => {
    // Act
    const { outcome, calls, waits } = await provision({ registerThing: [denied()] });

    // Assess
    expect(outcome).toMatchObject({ name: 'StepFailed', step: 'register-thing', cause: { statusCode: 403 } });
    expect(calls.registerThing).toHaveLength(1);
    expect(waits).toEqual([]);
  });
});

describe('a refused CONNECT', () => {
  it('with the claim is tried again at the same endpoint after at least a second, not taken for a dead region', async () => {
    // Act
    const { outcome, calls, retries } = await provision({ claimConnect: [connectEnded()] });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned', region: 'eu-west-1', regionsSkipped: [] });
    expect({ bootstrap: calls.bootstrap, claimConnect: calls.claimConnect }).toEqual({ bootstrap: 1, claimConnect: 2 });
    expect(retries).toEqual([{ step: 'connect', status: undefined, detail: { attempt: 1, delayMs: 1_000, throttled: true } }]);
  });

  it('with the new certificate, right after the claim session, is tried again and confirms', async () => {
    // Act
    const { outcome, calls, retries } = await provision({ confirm: [connectEnded(), connectEnded()] });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned' });
    expect(calls.confirm).toHaveLength(3);
    expect(retries.map((r) => [r.step, r.detail?.['delayMs']])).toEqual([
      ['confirm', 1_000],
      ['confirm', 1_000],
    ]);
  });

  it('for another reason (unreachable) still sends the device to its next region', async () => {
    // Act
    const unreachable = new MqttConnectFailed('iot.example.test:8883 (eu-west-1)', 'connection refused', undefined, 'unreachable');
    const { outcome, calls, retries } = await provision({ claimConnect: [unreachable] });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'provisioned', regionsSkipped: ['eu-west-1'] });
    expect(calls.bootstrap).toBe(2);
    expect(retries).toEqual([]);
  });
});
