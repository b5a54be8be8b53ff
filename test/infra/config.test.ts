import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfraConfigError, loadInfraConfig, PLACEHOLDER_ACCOUNT, type ConfigSource } from '@global-iot/infra/config.js';
import { TemplateFileError } from '@global-iot/infra/templates.js';
import { selfSignedServerCert } from '../helpers/tls.js';
import { cdkJsonContext, contextOf, ROOT, SIX_REGIONS, withConfig } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'infra-config-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function source(context: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ConfigSource {
  return { context: contextOf(context), baseDir: ROOT, env };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function load(context: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return loadInfraConfig(source(context, env));
}

describe('loadInfraConfig: the default cdk.json context', () => {
  it('gives five regions, the placeholder account and the repository template', () => {
    // Prepare
    const context = cdkJsonContext();

    // Act
    const config = load(context);

    // Assess
    expect(config.deployment.regions).toEqual(['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2']);
    expect(config.deployment.homeRegion).toBe('us-east-1');
    expect(config.account).toBe(PLACEHOLDER_ACCOUNT);
    expect(config.accountIsPlaceholder).toBe(true);
    expect(config.ticketKeysArePlaceholders).toBe(true);
    expect(config.template.name).toBe('GlobalFleetProvisioning');
    expect(config.template.body).toBe(readFileSync(join(ROOT, 'core/template/global-fleet.json'), 'utf8'));
    expect(config.settings).toMatchObject({
      apiRateLimit: 50,
      apiBurstLimit: 100,
      logRetentionDays: 30,
      metricsNamespace: 'GlobalIotProvisioning',
      secretCacheSeconds: 300,
    });
    expect(config.claimCertificatePem).toBeUndefined();
    expect(config.settings.alarmEmail).toBeUndefined();
    expect(config.settings.alarms).toEqual({
      periodMinutes: 5,
      evaluationPeriods: 1,
      minRequests: 20,
      bootstrap5xxPercent: 1,
      bootstrap429Percent: 5,
      bootstrapP99LatencyMs: 3000,
      apiThrottledRequests: 10,
      hookP99DurationMs: 4000,
      hookDenials: 100,
      hookErrors: 1,
      confirmationFailures: 1,
      failureQueueDepth: 1,
    });
    expect(config.skipGeoDb).toBe(false);
  });

  it('takes the account from CDK_DEFAULT_ACCOUNT when the context has none', () => {
    // Prepare
    const { account: _account, ...context } = cdkJsonContext();

    // Act
    const config = load(context, { CDK_DEFAULT_ACCOUNT: '123456789012' });

    // Assess
    expect(config.account).toBe('123456789012');
    expect(config.accountIsPlaceholder).toBe(false);
  });

  it('decodes JSON given on the command line (-c config=...) and the skipGeoDb flag', () => {
    // Prepare
    const context = { ...cdkJsonContext(), config: JSON.stringify({ homeRegion: 'eu-west-1', regions: ['eu-west-1'], defaultRegion: 'eu-west-1' }), skipGeoDb: 'true' };

    // Act
    const config = load(context);

    // Assess
    expect(config.deployment.regions).toEqual(['eu-west-1']);
    expect(config.skipGeoDb).toBe(true);
  });
});

describe('loadInfraConfig: region rules', () => {
  it('refuses an unknown region, naming it', () => {
    // Prepare
    const context = withConfig({ regions: ['us-east-1', 'eu-moon-1'] });

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(InfraConfigError);
    expect(act).toThrow(/eu-moon-1 is not a commercial AWS region with AWS IoT Core/);
    expect(act).toThrow(/unknown region eu-moon-1: homeRegion and regions must be among us-east-1, /);
  });

  it('refuses a default region that is not enabled', () => {
    // Prepare
    const context = withConfig({ defaultRegion: 'eu-west-1' });

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/defaultRegion: eu-west-1 is not one of the enabled regions/);
  });

  it('refuses an empty region list', () => {
    // Prepare
    const context = withConfig({ regions: [] });

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/regions: at least one region must be enabled/);
  });

  it('refuses an unknown home region', () => {
    // Prepare
    const context = withConfig({ homeRegion: 'us-east-9' });

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/unknown region us-east-9: homeRegion and regions must be among/);
  });

  it('refuses a residency rule naming a region that is not enabled', () => {
    // Prepare
    const context = withConfig({ residency: { DE: ['eu-west-1'] } });

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/residency\.DE: eu-west-1 is not an enabled region/);
  });

  it('says where the configuration should come from when there is none', () => {
    // Prepare
    const { config: _config, ...context } = cdkJsonContext();

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/no deployment configuration/);
  });
});

describe('loadInfraConfig: the config file', () => {
  it('reads a six-region file whose keys win over the context', () => {
    // Prepare
    const path = file(
      'six.json',
      JSON.stringify({
        homeRegion: 'eu-central-1',
        regions: SIX_REGIONS,
        defaultRegion: 'eu-central-1',
        residency: { DE: ['eu-central-1'] },
        account: '210987654321',
        infra: { stackPrefix: 'Six', apiRateLimit: 10, apiBurstLimit: 20 },
      }),
    );

    // Act
    const config = load({ ...cdkJsonContext(), configFile: path });

    // Assess
    expect(config.deployment.regions).toEqual([...SIX_REGIONS]);
    expect(config.deployment.residency).toEqual({ DE: ['eu-central-1'] });
    expect(config.account).toBe('210987654321');
    expect(config.settings.stackPrefix).toBe('Six');
    expect(config.settings.apiRateLimit).toBe(10);
    // Not in the file: taken from the context.
    expect(Object.keys(config.ticketPublicKeys)).toEqual(['placeholder-replace-me']);
  });

  it('names a config file that cannot be read', () => {
    // Prepare
    const context = { ...cdkJsonContext(), configFile: join(dir, 'absent.json') };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/configFile: cannot read .*absent\.json/);
  });

  it('names a config file that is not JSON', () => {
    // Prepare
    const context = { ...cdkJsonContext(), configFile: file('broken.json', '{ regions: ') };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/configFile: .*broken\.json is not valid JSON/);
  });

  it('refuses a config file holding a list', () => {
    // Prepare
    const context = { ...cdkJsonContext(), configFile: file('list.json', '[]') };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/must hold a JSON object/);
  });

  it('refuses a malformed -c value', () => {
    // Prepare
    const context = { ...cdkJsonContext(), config: '{"regions": [' };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/context config is not valid JSON/);
  });
});

describe('loadInfraConfig: keys and account', () => {
  it('requires ticket public keys', () => {
    // Prepare
    const { ticketPublicKeys: _keys, ...context } = cdkJsonContext();

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/ticketPublicKeys is required/);
  });

  it('refuses a private key among the ticket keys', () => {
    // Prepare
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const context = { ...cdkJsonContext(), ticketPublicKeys: { k1: pem } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/ticketPublicKeys\.k1 is a private key/);
  });

  it('refuses a ticket key that is not Ed25519', () => {
    // Prepare
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const context = { ...cdkJsonContext(), ticketPublicKeys: { k1: publicKey.export({ type: 'spki', format: 'pem' }).toString() } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/ticketPublicKeys: ticket key k1 must be Ed25519/);
  });

  it('refuses a ticket key id with characters tickets cannot carry', () => {
    // Prepare
    const context = { ...cdkJsonContext(), ticketPublicKeys: { 'bad kid': 'x' } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/ticketPublicKeys: key id 'bad kid' must be 1-64 characters/);
  });

  it('takes several ticket keys at once (rotation) and is then not a placeholder', () => {
    // Prepare
    const pem = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const context = { ...cdkJsonContext(), ticketPublicKeys: { '2026-10': pem(), '2026-11': pem() } };

    // Act
    const config = load(context);

    // Assess
    expect(Object.keys(config.ticketPublicKeys)).toEqual(['2026-10', '2026-11']);
    expect(config.ticketKeysArePlaceholders).toBe(false);
  });

  it('refuses a fleet key that is not a public key', () => {
    // Prepare
    const context = { ...cdkJsonContext(), fleetPublicKeys: ['not a key'] };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/fleetPublicKeys\[0\] is not a PEM public key/);
  });

  it('refuses a private key among the fleet keys', () => {
    // Prepare
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const context = { ...cdkJsonContext(), fleetPublicKeys: [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()] };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/fleetPublicKeys\[0\] is a private key/);
  });

  it('refuses an account id that is not 12 digits', () => {
    // Prepare
    const context = { ...cdkJsonContext(), account: '1234' };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/account: an AWS account id is 12 digits/);
  });

  it('never takes the geolocation provider key from the synth environment', () => {
    // Prepare
    const context = withConfig({ geoProvider: { url: 'https://api.ipstack.com' } });

    // Act
    const config = load(context, { IPSTACK_API_KEY: 'k-secret' });

    // Assess: the key goes to a secret the operator fills, never into the synthesised template.
    expect(JSON.stringify(config)).not.toContain('k-secret');
  });
});

describe('loadInfraConfig: infra settings, template and claim certificate', () => {
  it('refuses an unknown infra setting', () => {
    // Prepare
    const context = { ...cdkJsonContext(), infra: { apiRateLimt: 5 } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/infra: Unrecognized key/i);
  });

  it('refuses a log retention CloudWatch does not offer', () => {
    // Prepare
    const context = { ...cdkJsonContext(), infra: { logRetentionDays: 31 } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/infra\.logRetentionDays: must be one of/);
  });

  it.each([
    ['a metrics namespace reserved for AWS', { metricsNamespace: 'AWS/IoT' }, /infra\.metricsNamespace: namespaces starting with AWS\/ are reserved/],
    ['a secret cache shorter than 10 s', { secretCacheSeconds: 1 }, /infra\.secretCacheSeconds/],
    ['a secret cache longer than an hour', { secretCacheSeconds: 7200 }, /infra\.secretCacheSeconds/],
    ['an alarm e-mail that is not an address', { alarmEmail: 'ops at example' }, /infra\.alarmEmail: not an e-mail address/],
    ['a hook duration alarm at AWS IoT\'s 5 s limit', { alarms: { hookP99DurationMs: 5000 } }, /infra\.alarms\.hookP99DurationMs/],
    ['an alarm period CloudWatch does not offer', { alarms: { periodMinutes: 7 } }, /infra\.alarms\.periodMinutes: must be one of 1, 5, 10, 15, 30, 60/],
    ['a 5xx rate above 100 %', { alarms: { bootstrap5xxPercent: 150 } }, /infra\.alarms\.bootstrap5xxPercent/],
    ['an unknown alarm setting', { alarms: { hookDenial: 5 } }, /infra\.alarms: Unrecognized key/i],
  ])('refuses %s', (_label, infra, message) => {
    // Prepare
    const context = { ...cdkJsonContext(), infra };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(message);
  });

  it('refuses a template the template engine rejects, with the file and the JSON path', () => {
    // Prepare
    const path = file('bad-template.json', JSON.stringify({ Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: {} } } }));
    const context = { ...cdkJsonContext(), infra: { templateFile: path } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(TemplateFileError);
    expect(act).toThrow(/bad-template\.json: invalid provisioning template: \$\.Resources\.thing\.Properties\.ThingName/);
  });

  it('refuses a template that attaches a policy other than the device policy', () => {
    // Prepare
    const body = readFileSync(join(ROOT, 'core/template/global-fleet.json'), 'utf8').replace('GlobalFleetDevicePolicy', 'SomethingElse');
    const context = { ...cdkJsonContext(), infra: { templateFile: file('other-policy.json', body) } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/PolicyName must be "GlobalFleetDevicePolicy" \(infra\.devicePolicyName\)/);
  });

  it('names a template file that does not exist', () => {
    // Prepare
    const context = { ...cdkJsonContext(), infra: { templateFile: 'infra/templates/absent.json' } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/infra\.templateFile: cannot read .*absent\.json/);
  });

  it('reads the claim certificate and refuses anything but a certificate', () => {
    // Prepare
    const { cert, key } = selfSignedServerCert();
    const good = { ...cdkJsonContext(), infra: { claimCertificateFile: file('claim.pem', cert.toString()) } };
    const notCert = { ...cdkJsonContext(), infra: { claimCertificateFile: file('junk.pem', 'hello') } };
    const withKey = { ...cdkJsonContext(), infra: { claimCertificateFile: file('key.pem', `${cert.toString()}${key.toString()}`) } };

    // Act
    const config = load(good);

    // Assess
    expect(config.claimCertificatePem).toBe(cert.toString());
    expect(() => load(notCert)).toThrow(/junk\.pem is not a PEM X\.509 certificate/);
    expect(() => load(withKey)).toThrow(/key\.pem holds a private key/);
  });
});

describe('loadInfraConfig: stable names and the edge', () => {
  const EU = 'arn:aws:acm:eu-central-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
  const US = 'arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000';
  const zone = { id: 'Z0123456789ABCDEFGHIJ', name: 'example.com' };

  it('answers with the configurable endpoints and trusts CloudFront when the edge is on', () => {
    // Prepare
    const context = {
      ...cdkJsonContext(),
      infra: { iotDomains: { 'eu-central-1': { name: 'mqtt-eu.example.com', certificateArn: EU } }, edge: {} },
    };

    // Act
    const config = load(context);

    // Assess
    expect(config.deployment.endpointOverrides).toEqual({ 'eu-central-1': 'mqtt-eu.example.com' });
    expect(config.deployment.trustedProxy).toEqual({ type: 'cloudfront' });
    expect(config.settings.edge).toEqual({ rateLimit: 300, rateWindowSeconds: 300, priceClass: 'PriceClass_All', originSecretGeneration: 1, originCheckCacheSeconds: 300 });
    expect(load(cdkJsonContext()).deployment.trustedProxy).toEqual({ type: 'none' });
  });

  it.each([
    ['a domain with neither certificate nor hosted zone', { bootstrapDomain: { name: 'boot.example.com' } }, /infra\.bootstrapDomain: give certificateArn, or hostedZone/],
    ['a domain that is not a host name', { bootstrapDomain: { name: 'not a host', hostedZone: zone } }, /infra\.bootstrapDomain\.name: not a fully qualified host name/],
    [
      'an API certificate outside the home region',
      { bootstrapDomain: { name: 'boot.example.com', certificateArn: EU } },
      /infra\.bootstrapDomain\.certificateArn: the certificate must be in the home region \(the API serves it\), us-east-1/,
    ],
    [
      'an edge certificate outside us-east-1',
      { bootstrapDomain: { name: 'boot.example.com', certificateArn: EU }, edge: {} },
      /infra\.bootstrapDomain\.certificateArn: the certificate must be in us-east-1 \(CloudFront serves it\)/,
    ],
    ['a name outside its hosted zone', { bootstrapDomain: { name: 'boot.example.org', hostedZone: zone } }, /infra\.bootstrapDomain\.hostedZone: boot\.example\.org is not inside example\.com/],
    ['a certificate ARN that is not one', { bootstrapDomain: { name: 'boot.example.com', certificateArn: 'arn:aws:iam::1:cert' } }, /infra\.bootstrapDomain\.certificateArn: not an ACM certificate ARN/],
    ['a configurable endpoint in a region not enabled', { iotDomains: { 'eu-west-1': { name: 'm.example.com', certificateArn: EU } } }, /infra\.iotDomains: eu-west-1 is not an enabled region/],
    [
      "a configurable endpoint with another region's certificate",
      { iotDomains: { 'eu-central-1': { name: 'm.example.com', certificateArn: US } } },
      /infra\.iotDomains\.eu-central-1\.certificateArn: the certificate must be in eu-central-1/,
    ],
    ['a rate window the device would not wait for', { edge: { rateWindowSeconds: 600 } }, /infra\.edge\.rateWindowSeconds: must be one of 60, 120, 300/],
    ['a rate limit below AWS WAF\'s minimum', { edge: { rateLimit: 5 } }, /infra\.edge\.rateLimit/],
  ])('refuses %s, naming the setting', (_label, infra, message) => {
    // Prepare
    const context = { ...cdkJsonContext(), infra };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(InfraConfigError);
    expect(act).toThrow(message);
  });

  it('refuses an endpoint override that contradicts the configurable endpoint', () => {
    // Prepare
    const context = {
      ...withConfig({ endpointOverrides: { 'eu-central-1': 'other.example.com' } }),
      infra: { iotDomains: { 'eu-central-1': { name: 'mqtt-eu.example.com', certificateArn: EU } } },
    };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/endpointOverrides\.eu-central-1: other\.example\.com differs from infra\.iotDomains\.eu-central-1\.name mqtt-eu\.example\.com/);
  });

  it('refuses another trusted proxy than CloudFront with the edge', () => {
    // Prepare
    const context = { ...withConfig({ trustedProxy: { type: 'x-forwarded-for', hops: 2 } }), infra: { edge: {} } };

    // Act
    const act = () => load(context);

    // Assess
    expect(act).toThrow(/trustedProxy: x-forwarded-for cannot be used with infra\.edge/);
  });
});

describe('the committed configuration', () => {
  it('carries every CDK feature flag aws-cdk-lib recommends for its version, at the recommended value', () => {
    // Prepare: a newer aws-cdk-lib that recommends a new flag fails here, so the upgrade reviews it.
    const recommended = JSON.parse(readFileSync(join(ROOT, 'node_modules/aws-cdk-lib/recommended-feature-flags.json'), 'utf8')) as Record<string, unknown>;

    // Act
    const context = cdkJsonContext();

    // Assess
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) expect(context[flag], flag).toEqual(value);
  });

  it.each(['six-regions.example.json', 'stable-names.example.json'])('loads the example infra/config/%s', (name) => {
    // Prepare
    const context = { ...cdkJsonContext(), configFile: join(ROOT, 'infra/config', name) };

    // Act
    const config = load(context);

    // Assess
    expect(config.deployment.regions.length).toBeGreaterThan(0);
  });
});
