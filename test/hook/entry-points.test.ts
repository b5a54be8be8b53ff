import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '@global-iot/core/errors.js';
import { readConfirmSettings, readHookSettings } from '@global-iot/pre-provisioning-hook/settings.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { captureOutput, lambdaContext } from '../helpers/telemetry.js';
import { certificateId, hookEvent, HookWorld, ticketKeyPair } from './helpers.js';

const keyPair = ticketKeyPair();
const baseEnv = {
  REGISTRY_TABLE: 'iot-device-registry',
  REGISTRY_REGION: 'us-east-1',
  TICKET_PUBLIC_KEYS: JSON.stringify(keyPair.publicKeys),
};

describe('hook settings', () => {
  it('read the environment, with the deployment configuration defaults', () => {
    // Act
    const settings = readHookSettings(baseEnv);
    // Assess
    expect(settings).toMatchObject({
      tableName: 'iot-device-registry',
      registryRegion: 'us-east-1',
      hook: { maxProvisionAttempts: 3, claimClientIdPrefix: 'prov-', legacyClaimClientIds: false },
      telemetry: { serviceName: 'pre-provisioning-hook', metricsNamespace: 'GlobalIotProvisioning' },
    });
    expect(settings.dynamoEndpoint).toBeUndefined();
    expect([...settings.ticketKeys.keys()]).toEqual(Object.keys(keyPair.publicKeys));
  });

  it('take the optional settings when given', () => {
    const settings = readHookSettings({
      ...baseEnv,
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      MAX_PROVISION_ATTEMPTS: '5',
      CLAIM_CLIENT_ID_PREFIX: 'claim_',
      LEGACY_CLAIM_CLIENT_IDS: 'true',
    });
    expect(settings).toMatchObject({
      dynamoEndpoint: 'http://127.0.0.1:8000',
      hook: { maxProvisionAttempts: 5, claimClientIdPrefix: 'claim_', legacyClaimClientIds: true },
    });
  });

  it.each([
    ['REGISTRY_TABLE missing', { REGISTRY_TABLE: undefined }, /REGISTRY_TABLE/],
    ['REGISTRY_REGION missing', { REGISTRY_REGION: undefined }, /REGISTRY_REGION/],
    ['REGISTRY_REGION not a region', { REGISTRY_REGION: 'Virginia' }, /REGISTRY_REGION must be an AWS region code/],
    ['TICKET_PUBLIC_KEYS missing', { TICKET_PUBLIC_KEYS: undefined }, /TICKET_PUBLIC_KEYS/],
    ['TICKET_PUBLIC_KEYS not JSON', { TICKET_PUBLIC_KEYS: '{kid:' }, /TICKET_PUBLIC_KEYS is not valid JSON/],
    ['TICKET_PUBLIC_KEYS not an object of strings', { TICKET_PUBLIC_KEYS: '["pem"]' }, /TICKET_PUBLIC_KEYS is invalid/],
    ['TICKET_PUBLIC_KEYS empty', { TICKET_PUBLIC_KEYS: '{}' }, /at least one ticket public key/],
    ['MAX_PROVISION_ATTEMPTS zero', { MAX_PROVISION_ATTEMPTS: '0' }, /MAX_PROVISION_ATTEMPTS must be between 1 and 20/],
    ['MAX_PROVISION_ATTEMPTS not a number', { MAX_PROVISION_ATTEMPTS: 'three' }, /MAX_PROVISION_ATTEMPTS must be an integer/],
    ['LEGACY_CLAIM_CLIENT_IDS not a boolean', { LEGACY_CLAIM_CLIENT_IDS: 'maybe' }, /LEGACY_CLAIM_CLIENT_IDS/],
    ['CLAIM_CLIENT_ID_PREFIX with a policy wildcard', { CLAIM_CLIENT_ID_PREFIX: 'prov*' }, /CLAIM_CLIENT_ID_PREFIX: the claim client id prefix is 1 to 32/],
    ['POWERTOOLS_METRICS_NAMESPACE reserved for AWS', { POWERTOOLS_METRICS_NAMESPACE: 'AWS/IoT' }, /POWERTOOLS_METRICS_NAMESPACE is invalid/],
  ])('refuse a bad environment: %s', (_name, change, message) => {
    expect(() => readHookSettings({ ...baseEnv, ...change })).toThrow(ConfigError);
    expect(() => readHookSettings({ ...baseEnv, ...change })).toThrow(message);
  });

  it('the confirmation needs the region it runs in', () => {
    expect(readConfirmSettings({ ...baseEnv, AWS_REGION: 'eu-west-1' })).toMatchObject({
      region: 'eu-west-1',
      tableName: 'iot-device-registry',
      telemetry: { serviceName: 'provisioning-confirmation' },
    });
    expect(() => readConfirmSettings(baseEnv)).toThrow(/AWS_REGION/);
  });

  it("the confirmation reads the lifecycle settings, with the configuration's defaults, and local endpoints only when set", () => {
    // Act
    const defaults = readConfirmSettings({ ...baseEnv, AWS_REGION: 'eu-west-1' });
    const set = readConfirmSettings({
      ...baseEnv,
      AWS_REGION: 'eu-west-1',
      REPROVISION_POLICY: 'reset',
      HISTORY_LIMIT: '5',
      IOT_ENDPOINT: 'http://127.0.0.1:4000',
      IOT_DATA_ENDPOINT: 'http://127.0.0.1:4001',
    });

    // Assess
    expect(defaults).toMatchObject({ lifecycle: { defaultPolicy: 'migrate', historyLimit: 20 }, endpoints: {} });
    expect(set).toMatchObject({
      lifecycle: { defaultPolicy: 'reset', historyLimit: 5 },
      endpoints: { iotEndpoint: 'http://127.0.0.1:4000', iotDataEndpoint: 'http://127.0.0.1:4001' },
    });
  });

  it.each([
    ['REPROVISION_POLICY unknown', { REPROVISION_POLICY: 'sometimes' }, /REPROVISION_POLICY must be one of never, reset, migrate/],
    ['HISTORY_LIMIT out of range', { HISTORY_LIMIT: '0' }, /HISTORY_LIMIT/],
  ])('the confirmation refuses a bad environment: %s', (_name, change, message) => {
    expect(() => readConfirmSettings({ ...baseEnv, AWS_REGION: 'eu-west-1', ...change })).toThrow(ConfigError);
    expect(() => readConfirmSettings({ ...baseEnv, AWS_REGION: 'eu-west-1', ...change })).toThrow(message);
  });

  it('the hook reads the rotation template name, refusing an invalid one', () => {
    expect(readHookSettings({ ...baseEnv, ROTATION_TEMPLATE_NAME: 'MyRotation' }).hook.rotationTemplateName).toBe('MyRotation');
    expect(readHookSettings(baseEnv).hook.rotationTemplateName).toBe('GlobalFleetRotation');
    expect(() => readHookSettings({ ...baseEnv, ROTATION_TEMPLATE_NAME: 'not a name' })).toThrow(/ROTATION_TEMPLATE_NAME/);
  });
});

describe('AWS entry points', () => {
  const REGION = 'eu-central-1';
  let t: TestRegistry;
  let w: HookWorld;
  beforeAll(async () => {
    t = await startTestRegistry();
    // The entry points tell time with Date.now: tickets must be issued on the same clock.
    t.clock.now = Date.now();
    w = new HookWorld(t, keyPair);
    // The Lambda environment, before the modules read it at load.
    vi.stubEnv('REGISTRY_TABLE', t.tableName);
    vi.stubEnv('REGISTRY_REGION', 'us-east-1');
    vi.stubEnv('DYNAMODB_ENDPOINT', t.dynamo.endpoint);
    vi.stubEnv('TICKET_PUBLIC_KEYS', JSON.stringify(keyPair.publicKeys));
    vi.stubEnv('AWS_REGION', REGION);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await t.close();
  });

  it('provision and then confirm a device, writing one Powertools log line and one EMF document each', async () => {
    // Prepare
    const { handler: hook } = await import('@global-iot/pre-provisioning-hook/handler.js');
    const { handler: confirm } = await import('@global-iot/pre-provisioning-hook/confirm-handler.js');
    const device = await w.assignedDevice(REGION);
    const cert = certificateId();
    const stdout = captureOutput();
    let allowed, confirmed, after;
    try {
      // Act
      allowed = await hook(hookEvent({ ...device, region: REGION, certificateId: cert }), lambdaContext('hook', 'req-hook-1'));
      confirmed = await confirm(
        { clientId: device.thingName, principal: cert, receivedAt: Date.now() },
        lambdaContext('confirm', 'req-confirm-1'),
      );
      after = await hook(hookEvent({ ...device, region: REGION, certificateId: certificateId() }), lambdaContext('hook', 'req-hook-2'));
    } finally {
      stdout.stop();
    }

    // Assess
    expect(allowed.allowProvisioning).toBe(true);
    expect(confirmed).toEqual({ confirmed: true });
    expect(after.allowProvisioning).toBe(false);
    const lines = stdout.lines();
    const logLines = lines.filter((line) => 'message' in line);
    const emf = lines.filter((line) => '_aws' in line);
    expect(lines.filter((line) => line['level'] !== undefined && line['level'] !== 'INFO')).toEqual([]);
    expect(logLines).toEqual([
      expect.objectContaining({ message: 'provisioning-decision', service: 'pre-provisioning-hook', function_request_id: 'req-hook-1', thing: device.thingName, outcome: 'allow' }),
      expect.objectContaining({ message: 'provisioning-confirmation', service: 'provisioning-confirmation', function_request_id: 'req-confirm-1', thing: device.thingName, outcome: 'confirmed' }),
      expect.objectContaining({ message: 'provisioning-decision', function_request_id: 'req-hook-2', outcome: 'deny', reason: 'registry: status is provisioned' }),
    ]);
    expect(emf.map((doc) => [doc['service'], doc['Outcome'], doc['Invocations']])).toEqual([
      ['pre-provisioning-hook', 'allow', 1],
      ['provisioning-confirmation', 'confirmed', 1],
      ['pre-provisioning-hook', 'deny', 1],
    ]);
    expect(emf[2]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'GlobalIotProvisioning', Dimensions: [['service'], ['service', 'Outcome'], ['service', 'Reason']] }] },
      Reason: 'registry: status is provisioned',
    });
    expect(JSON.stringify(lines)).not.toContain(device.ticket);
  });
});
