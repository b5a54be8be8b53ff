import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { ConfigError } from '@global-iot/core/errors.js';

const base = { homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1' };

describe('deployment configuration', () => {
  it('fills in the documented defaults', () => {
    const config = parseDeploymentConfig(base);
    expect(config).toMatchObject({
      templateName: 'GlobalFleetProvisioning',
      ticketTtlSeconds: 900,
      timestampSkewSeconds: 300,
      legacySignatures: false,
      trustedProxy: { type: 'none' },
      maxProvisionAttempts: 3,
      claimClientIdPrefix: 'prov-',
      legacyClaimClientIds: false,
      confirmationRuleName: 'GlobalIotConfirmation',
      fallbackCount: 2,
      regionRanking: 'network',
      measuredChoice: { marginMs: 5, marginRatio: 0.1 },
      admission: {
        enabled: true,
        tableName: 'iot-bootstrap-admission',
        registerThingQuotaTps: 10,
        regionQuotaTps: {},
        safetyFactor: 0.8,
        overflow: 'retry-after',
        overflowRegions: 1,
        maxRetryAfterSeconds: 300,
        counterTtlSeconds: 3600,
        pacing: true,
      },
    });
  });

  it('fills in the rest of a partly given block', () => {
    const config = parseDeploymentConfig({ ...base, measuredChoice: { marginMs: 12 } });
    expect(config.measuredChoice).toEqual({ marginMs: 12, marginRatio: 0.1 });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown region', { regions: ['us-east-1', 'eu-mars-1'] }, /eu-mars-1 is not a commercial AWS region/],
    ['a malformed region', { regions: ['Frankfurt'] }, /regions\.0: not an AWS region code/],
    ['an empty region list', { regions: [] }, /at least one region must be enabled/],
    ['a default region that is not enabled', { defaultRegion: 'ap-south-1' }, /defaultRegion: ap-south-1 is not one of the enabled regions/],
    ['a residency rule naming a disabled region', { residency: { DE: ['eu-west-1'] } }, /residency\.DE: eu-west-1 is not an enabled region/],
    ['a lower-case country', { residency: { de: ['eu-central-1'] } }, /residency\.de/],
    ['a duplicate region', { regions: ['us-east-1', 'us-east-1'] }, /listed twice/],
    ['a bad template name', { templateName: 'has space' }, /template names/],
    ['a too-short ticket lifetime', { ticketTtlSeconds: 5 }, /ticketTtlSeconds/],
    ['a plain-HTTP geolocation provider', { geoProvider: { url: 'http://api.ipstack.com' } }, /must use HTTPS/],
    ['an unknown trusted proxy', { trustedProxy: { type: 'anything' } }, /trustedProxy/],
    ['an unknown region ranking', { regionRanking: 'fastest' }, /regionRanking/],
    ['a negative measurement margin', { measuredChoice: { marginMs: -1 } }, /measuredChoice\.marginMs/],
    ['a measurement margin ratio over 1', { measuredChoice: { marginRatio: 1.5 } }, /measuredChoice\.marginRatio/],
    ['a raised quota for a region not enabled', { admission: { regionQuotaTps: { 'ap-south-1': 50 } } }, /admission\.regionQuotaTps: ap-south-1 is not an enabled region/],
    ['a safety factor of 0', { admission: { safetyFactor: 0 } }, /admission\.safetyFactor/],
    ['a safety factor over 1', { admission: { safetyFactor: 1.2 } }, /admission\.safetyFactor/],
    ['a fractional quota', { admission: { registerThingQuotaTps: 2.5 } }, /admission\.registerThingQuotaTps/],
    ['an unknown overflow', { admission: { overflow: 'drop' } }, /admission\.overflow/],
    ['a negative RegisterThing lead', { admission: { registerLeadMs: -1 } }, /admission\.registerLeadMs/],
    ['a RegisterThing lead over 30 s', { admission: { registerLeadMs: 30_001 } }, /admission\.registerLeadMs/],
    ['a fractional RegisterThing lead', { admission: { registerLeadMs: 2.5 } }, /admission\.registerLeadMs/],
    ['the registry as the counter table', { admission: { tableName: 'iot-device-registry' } }, /admission\.tableName: iot-device-registry is the registry table/],
    ['a claim client-id prefix with a policy wildcard', { claimClientIdPrefix: 'prov*' }, /claimClientIdPrefix: the claim client id prefix is 1 to 32 characters/],
    ['an empty claim client-id prefix', { claimClientIdPrefix: '' }, /claimClientIdPrefix/],
    ['a confirmation rule name with a hyphen', { confirmationRuleName: 'confirm-rule' }, /confirmationRuleName: IoT rule names/],
    ['a bad counter table name', { admission: { tableName: 'a b' } }, /admission\.tableName: DynamoDB table names/],
  ];
  for (const [label, change, message] of bad) {
    it(`refuses ${label} with a message naming the setting`, () => {
      expect(() => parseDeploymentConfig({ ...base, ...change })).toThrow(ConfigError);
      expect(() => parseDeploymentConfig({ ...base, ...change })).toThrow(message);
    });
  }
});
