import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '@global-iot/core/errors.js';
import { readConfirmSettings, readHookSettings } from '@global-iot/pre-provisioning-hook/settings.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
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
      hook: { maxProvisionAttempts: 3, requireClientIdMatch: true },
    });
    expect(settings.dynamoEndpoint).toBeUndefined();
    expect([...settings.ticketKeys.keys()]).toEqual(Object.keys(keyPair.publicKeys));
  });

  it('take the optional settings when given', () => {
    const settings = readHookSettings({
      ...baseEnv,
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      MAX_PROVISION_ATTEMPTS: '5',
      REQUIRE_CLIENT_ID_MATCH: 'false',
    });
    expect(settings).toMatchObject({ dynamoEndpoint: 'http://127.0.0.1:8000', hook: { maxProvisionAttempts: 5, requireClientIdMatch: false } });
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
    ['REQUIRE_CLIENT_ID_MATCH not a boolean', { REQUIRE_CLIENT_ID_MATCH: 'maybe' }, /REQUIRE_CLIENT_ID_MATCH/],
  ])('refuse a bad environment: %s', (_name, change, message) => {
    expect(() => readHookSettings({ ...baseEnv, ...change })).toThrow(ConfigError);
    expect(() => readHookSettings({ ...baseEnv, ...change })).toThrow(message);
  });

  it('the confirmation needs the region it runs in', () => {
    expect(readConfirmSettings({ ...baseEnv, AWS_REGION: 'eu-west-1' })).toMatchObject({ region: 'eu-west-1', tableName: 'iot-device-registry' });
    expect(() => readConfirmSettings(baseEnv)).toThrow(/AWS_REGION/);
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

  it('provision and then confirm a device, logging one JSON line each', async () => {
    // Prepare
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const { handler: hook } = await import('@global-iot/pre-provisioning-hook/handler.js');
    const { handler: confirm } = await import('@global-iot/pre-provisioning-hook/confirm-handler.js');
    const device = await w.assignedDevice(REGION);
    const cert = certificateId();
    try {
      // Act
      const allowed = await hook(hookEvent({ ...device, region: REGION, certificateId: cert }));
      const confirmed = await confirm({ clientId: device.thingName, eventType: 'connected', principalIdentifier: cert, timestamp: Date.now() });
      const after = await hook(hookEvent({ ...device, region: REGION, certificateId: certificateId() }));
      // Assess
      expect(allowed.allowProvisioning).toBe(true);
      expect(confirmed).toEqual({ confirmed: true });
      expect(after.allowProvisioning).toBe(false);
      expect(lines.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual([
        'provisioning-decision',
        'provisioning-confirmation',
        'provisioning-decision',
      ]);
      expect(lines.join('\n')).not.toContain(device.ticket);
    } finally {
      spy.mockRestore();
    }
  });
});
