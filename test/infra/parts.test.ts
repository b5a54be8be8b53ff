import { generateKeyPairSync } from 'node:crypto';
import { type CfnElement, CfnResource, Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ClaimCertificate } from '@global-iot/infra/constructs/claim-certificate.js';
import { dataEndpointMaxBytes, IotDataEndpoints } from '@global-iot/infra/constructs/iot-data-endpoints.js';
import { defineDeployment } from '@global-iot/infra/deployment.js';
import { REGION_CATALOGUE } from '@global-iot/core/regions.js';
import { DevicePolicy } from '@global-iot/infra/constructs/device-policy.js';
import { EnvironmentTooLargeError, ProvisioningFunction } from '@global-iot/infra/constructs/provisioning-function.js';
import { GEO_TABLE_BUNDLE_PATH, GeoTableAssetError, locateGeoTable, MAX_GEO_TABLE_BYTES } from '@global-iot/infra/geo.js';
import { checkHandlerEntries, DEFAULT_HANDLER_ENTRIES, HandlerEntryError } from '@global-iot/infra/handlers.js';
import { claimPolicyDocument, devicePolicyDocument } from '@global-iot/infra/iot-policies.js';
import { logicalIdFromPath } from '@global-iot/infra/logical-ids.js';
import { generateTicketKey, publicKeyFromSecret, stagedVersions, TicketKeyError } from '@global-iot/infra/scripts/ticket-key.js';
import { parseTicketPublicKeys, ed25519Signer, issueTicket, verifyTicket } from '@global-iot/core/ticket.js';
import { selfSignedServerCert } from '../helpers/tls.js';
import { cdkJsonContext, testApp } from './helpers.js';

const file = (size: number) => ({ size, isFile: () => true });

describe('locateGeoTable', () => {
  it('tells the operator to run geo:build when the table is missing', () => {
    // Prepare
    const stat = () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };

    // Act
    const act = () => locateGeoTable('/nowhere/table', stat);

    // Assess
    expect(act).toThrow(GeoTableAssetError);
    expect(act).toThrow(/\/nowhere\/table is missing: run `npm run geo:build`/);
  });

  it('refuses a table that would not fit in a Lambda function', () => {
    // Act
    const act = () => locateGeoTable('/big', () => file(MAX_GEO_TABLE_BYTES + 1));

    // Assess
    expect(act).toThrow(/at most 209715200 fit in a Lambda function/);
  });

  it('refuses a folder in place of the table', () => {
    // Act
    const act = () => locateGeoTable('/dir', () => ({ size: 1, isFile: () => false }));

    // Assess
    expect(act).toThrow(/is not a file/);
  });

  it('ships a table of a fitting size under geo/ in the bundle', () => {
    // Act
    const asset = locateGeoTable('/ok', () => file(30_000_000));

    // Assess
    expect(asset).toEqual({ file: { source: '/ok', destination: GEO_TABLE_BUNDLE_PATH }, bytes: 30_000_000 });
  });
});

describe('checkHandlerEntries', () => {
  it('names every missing handler module', () => {
    // Act
    const act = () => checkHandlerEntries(DEFAULT_HANDLER_ENTRIES, (path) => path.endsWith('bootstrap-service/handler.ts'));

    // Assess
    expect(act).toThrow(HandlerEntryError);
    expect(act).toThrow(/handler modules missing: hook \(.*pre-provisioning-hook\/handler\.ts\), confirm \(.*confirm-handler\.ts\)/);
  });

  it('passes when all exist', () => {
    // Act + Assess
    expect(() => checkHandlerEntries(DEFAULT_HANDLER_ENTRIES, () => true)).not.toThrow();
  });
});

describe('ProvisioningFunction', () => {
  it("refuses an environment larger than Lambda's 4 KB, before bundling", () => {
    // Prepare
    const stack = new Stack(testApp(), 'S');

    // Act
    const act = () =>
      new ProvisioningFunction(stack, 'Big', {
        entry: DEFAULT_HANDLER_ENTRIES.confirm,
        description: 'too much',
        environment: { FLEET_PUBLIC_KEYS: 'k'.repeat(4000), OTHER: 'v'.repeat(100) },
      });

    // Assess
    expect(act).toThrow(EnvironmentTooLargeError);
    expect(act).toThrow(/Big: the environment takes about \d+ bytes, more than Lambda's 4096; largest: FLEET_PUBLIC_KEYS/);
  });

  it('counts a value holding tokens at the bound its stack gives, else at 256 bytes', () => {
    // Prepare: no bundling, only the constructors' checks.
    const stack = new Stack(testApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const joined = `{"a":"${Lazy.string({ produce: () => 'x' })}"}`;
    const make = (id: string, maxBytes?: number) => () =>
      new ProvisioningFunction(stack, id, {
        entry: DEFAULT_HANDLER_ENTRIES.confirm,
        description: id,
        environment: { JOINED: joined, OTHER: 'v'.repeat(3700) },
        ...(maxBytes === undefined ? {} : { environmentMaxBytes: { JOINED: maxBytes } }),
      });

    // Act + Assess
    expect(make('Assumed')).not.toThrow();
    expect(make('Bounded', 500)).toThrow(/Bounded: the environment takes about \d+ bytes, more than Lambda's 4096; largest: OTHER \(3705 bytes\), JOINED \(506 bytes\)/);
  });

  it("fits the bootstrap's environment in 4 KB with every region of the catalogue enabled, each endpoint looked up at deploy", () => {
    // Prepare
    const regions = REGION_CATALOGUE.map((r) => r.code);
    const app = testApp({
      context: { ...cdkJsonContext(), skipGeoDb: true, 'aws:cdk:bundling-stacks': [], config: { homeRegion: 'us-east-1', regions, defaultRegion: 'us-east-1' } },
    });

    // Act
    const { home } = defineDeployment(app, { env: {} });

    // Assess
    expect(Object.keys(home.dataEndpoints?.endpoints ?? {})).toEqual(regions);
  });
});

describe('IotDataEndpoints', () => {
  it('bounds its variable by the longest names AWS can give', () => {
    // Prepare
    const regions = REGION_CATALOGUE.map((r) => r.code);
    const lookups = new IotDataEndpoints(new Stack(testApp(), 'S'), 'Endpoints', { regions, logRetention: 30 });
    const longest = Object.fromEntries(regions.map((region) => [region, `${'a'.repeat(59)}-ats.iot.${region}.amazonaws.com`]));

    // Act
    const bound = lookups.environmentMaxBytes();

    // Assess
    expect(regions.every((region) => longest[region]?.length === dataEndpointMaxBytes(region))).toBe(true);
    expect(bound).toBe(Buffer.byteLength(JSON.stringify(longest)));
  });
});

describe('claimPolicyDocument and devicePolicyDocument', () => {
  const where = { region: 'eu-central-1', account: '123456789012' };

  it('lets the claim certificate connect under the prefix only, or as anyone during a legacy window', () => {
    // Act
    const strict = claimPolicyDocument(where, { templateName: 'T', clientIdPrefix: 'claim_', legacyClientIds: false });
    const legacy = claimPolicyDocument(where, { templateName: 'T', clientIdPrefix: 'claim_', legacyClientIds: true });

    // Assess
    expect(strict.Statement[0]).toEqual({ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:eu-central-1:123456789012:client/claim_*' });
    expect(legacy.Statement[0]).toEqual({ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:eu-central-1:123456789012:client/*' });
    expect(legacy.Statement.slice(1)).toEqual(strict.Statement.slice(1));
  });

  it('lets a device connect only with a certificate attached to its thing', () => {
    // Act
    const document = devicePolicyDocument(where, { confirmationRuleName: 'Confirm', rotationTemplateName: 'Rotate' });

    // Assess
    expect(document.Statement[0]).toEqual({
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: 'arn:aws:iot:eu-central-1:123456789012:client/${iot:Connection.Thing.ThingName}',
      Condition: { Bool: { 'iot:Connection.Thing.IsAttached': true } },
    });
  });
});

describe('ticket-key script', () => {
  it('makes a key whose stored form signs tickets the printed public key verifies', async () => {
    // Prepare
    const key = generateTicketKey('2026-11');
    const stored = JSON.parse(key.secretString) as { kid: string; privateKeyPem: string };

    // Act
    const { ticket } = await issueTicket(ed25519Signer(stored.kid, stored.privateKeyPem), {
      thingName: 'dev-1',
      region: 'eu-central-1',
      ttlSeconds: 60,
      nowMs: 1_000_000,
    });
    const claims = verifyTicket(ticket, parseTicketPublicKeys({ [key.kid]: key.publicKeyPem }), 1_000_000);

    // Assess
    expect(stored.kid).toBe('2026-11');
    expect(key.publicKeyPem).not.toContain('PRIVATE');
    expect(claims.sub).toBe('dev-1');
    expect(publicKeyFromSecret(key.secretString)).toEqual({ kid: '2026-11', publicKeyPem: key.publicKeyPem });
  });

  it('refuses a bad key id and a secret that holds no ticket key', () => {
    // Prepare
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

    // Act + Assess
    expect(() => generateTicketKey('no spaces')).toThrow(TicketKeyError);
    expect(() => publicKeyFromSecret('random-placeholder')).toThrow(/does not hold JSON/);
    expect(() => publicKeyFromSecret('{"kid":"a"}')).toThrow(/not a ticket key/);
    expect(() => publicKeyFromSecret(JSON.stringify({ kid: 'a', privateKeyPem: rsa }))).toThrow(/not Ed25519/);
  });

  it('finds the current and pending versions', () => {
    // Act
    const staged = stagedVersions({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'], v3: ['AWSPENDING'] });

    // Assess
    expect(staged).toEqual({ current: 'v2', pending: 'v3' });
    expect(stagedVersions({ v2: ['AWSCURRENT'] })).toEqual({ current: 'v2' });
  });
});

describe('logicalIdFromPath', () => {
  it('gives the ids CDK gives, for resources directly in a stack and nested in constructs', () => {
    // Prepare: the shapes the regional stack has (L1 alone, L2 with Resource, nested policies, Default).
    const stack = new Stack(testApp(), 'Ids');
    const elements = [
      new CfnResource(stack, 'ProvisioningTemplate', { type: 'Test::Thing' }),
      new CfnResource(new Construct(stack, 'PreProvisioningHook'), 'Resource', { type: 'Test::Thing' }),
      new CfnResource(new Construct(new Construct(stack, 'PreProvisioningHookRole'), 'DefaultPolicy'), 'Resource', { type: 'Test::Thing' }),
      new CfnResource(new Construct(stack, 'Hook'), 'HookInvoke', { type: 'Test::Thing' }),
      new CfnResource(new Construct(stack, 'Wrapper'), 'Default', { type: 'Test::Thing' }),
      new CfnResource(stack, 'has-dashes_and.dots', { type: 'Test::Thing' }),
    ];

    // Act
    const ours = elements.map((e) => logicalIdFromPath(e.node.scopes.slice(2).map((s) => s.node.id)));

    // Assess
    expect(ours).toEqual(elements.map((e) => stack.getLogicalId(e)));
    expect(ours[0]).toBe('ProvisioningTemplate');
    expect(() => logicalIdFromPath(['Default'])).toThrow(/at least one/);
  });
});

describe('ClaimCertificate', () => {
  it('creates the claim policy alone when the certificate is registered by hand', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Claim');

    // Act
    new ClaimCertificate(stack, 'Claim', { where: { region: 'eu-central-1', account: '111111111111' }, policyName: 'ClaimPolicy', templateName: 'T', clientIdPrefix: 'prov-', legacyClientIds: false });

    // Assess
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IoT::Policy', 1);
    template.resourceCountIs('AWS::IoT::Certificate', 0);
    template.resourceCountIs('AWS::IoT::PolicyPrincipalAttachment', 0);
  });

  it('registers a configured certificate without a CA, active, with the policy attached and its id as an output', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Claim');
    const pem = selfSignedServerCert().cert.toString();

    // Act
    const claim = new ClaimCertificate(stack, 'Claim', { where: { region: 'eu-central-1', account: '111111111111' }, policyName: 'ClaimPolicy', templateName: 'T', clientIdPrefix: 'prov-', legacyClientIds: false, certificatePem: pem });

    // Assess
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IoT::Certificate', { CertificateMode: 'SNI_ONLY', CertificatePem: pem, Status: 'ACTIVE' });
    template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', { PolicyName: { Ref: stack.getLogicalId(claim.policy) } });
    template.hasOutput('*', { Value: { Ref: stack.getLogicalId(claim.certificate as CfnElement) } });
  });
});

describe('DevicePolicy', () => {
  it('is the device policy document under the configured name', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Device');
    const where = { region: 'eu-central-1', account: '111111111111' };

    // Act
    new DevicePolicy(stack, 'Device', { where, policyName: 'Fleet', confirmationRuleName: 'Confirm', rotationTemplateName: 'Rotate' });

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::IoT::Policy', {
      PolicyName: 'Fleet',
      PolicyDocument: devicePolicyDocument(where, { confirmationRuleName: 'Confirm', rotationTemplateName: 'Rotate' }),
    });
  });
});
