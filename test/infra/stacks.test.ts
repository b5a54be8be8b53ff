/**
 * Assertion tests over two real syntheses, shared by every test: the default cdk.json deployment
 * (five regions) and a six-region deployment from a config file with a claim certificate. Both
 * bundle the real handlers with esbuild and run cdk-nag's AwsSolutions pack.
 */
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct, type IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGeoTablePath, GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';
import { NODE_RUNTIME } from '@global-iot/infra/constructs/provisioning-function.js';
import { type Deployment, defineDeployment } from '@global-iot/infra/deployment.js';
import { fleetProvisioningTopics, THING_NAME_VARIABLE } from '@global-iot/infra/iot-policies.js';
import type { RegionalStack } from '@global-iot/infra/stacks/regional-stack.js';
import { startSecretsManagerStandIn } from '../helpers/secrets-manager.js';
import { selfSignedServerCert } from '../helpers/tls.js';
import { cdkJsonContext, ROOT, SIX_REGIONS } from './helpers.js';

interface Synthesized extends Deployment {
  readonly app: App;
  readonly outdir: string;
}

let defaults: Synthesized;
let six: Synthesized;
let claimCertificatePem: string;
const scratch: string[] = [];

function synthesize(context: Record<string, unknown>): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'infra-synth-'));
  scratch.push(outdir);
  const app = new App({ context, outdir });
  const deployment = defineDeployment(app, { env: {} });
  // Throws if cdk-nag reports a finding nobody acknowledged (the CLI fails the same way).
  app.synth();
  return { ...deployment, app, outdir };
}

function allStacks(s: Synthesized): Stack[] {
  return [s.home, ...s.regional.values()];
}

function logicalId(stack: Stack, construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (child === undefined) throw new Error(`${construct.node.path} has no default child`);
  return stack.getLogicalId(child as CfnElement);
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every IAM statement of a stack: managed, inline on roles, and standalone policies. */
function iamStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    statements.push(...(policy.Properties.PolicyDocument.Statement as Statement[]));
  }
  for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const inline of (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) {
      statements.push(...inline.PolicyDocument.Statement);
    }
  }
  return statements;
}

/** The folder of a function's bundle in the cloud assembly. */
function bundleOf(s: Synthesized, stack: Stack, fn: IConstruct): string {
  const resource = Template.fromStack(stack).findResources('AWS::Lambda::Function')[logicalId(stack, fn)];
  const key = resource?.Properties.Code.S3Key as string;
  return join(s.app.synth().directory, `asset.${key.replace(/\.zip$/, '')}`);
}

/** Loads a bundle in a fresh Node.js process, as Lambda would, and reports whether it exports a handler. */
async function loadBundle(dir: string, env: Record<string, string>): Promise<string> {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)}); process.stdout.write(typeof m.handler);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', AWS_EC2_METADATA_DISABLED: 'true', ...env },
    timeout: 20_000,
  });
  return stdout;
}

const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

beforeAll(() => {
  // Prepare (shared): the geolocation table is built once per checkout; the bundle must carry it.
  if (!existsSync(defaultGeoTablePath())) {
    execFileSync('npx', ['tsx', 'tools/geo/build.ts', '--if-missing'], { cwd: ROOT, stdio: 'ignore' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'infra-six-'));
  scratch.push(dir);
  claimCertificatePem = selfSignedServerCert().cert.toString();
  writeFileSync(join(dir, 'claim.pem'), claimCertificatePem);
  writeFileSync(
    join(dir, 'six.json'),
    JSON.stringify({
      homeRegion: 'us-east-1',
      regions: SIX_REGIONS,
      defaultRegion: 'us-east-1',
      residency: { IN: ['ap-south-1'] },
      account: '210987654321',
      infra: {
        claimCertificateFile: join(dir, 'claim.pem'),
        apiRateLimit: 20,
        apiBurstLimit: 40,
        logRetentionDays: 90,
        metricsNamespace: 'Six/Provisioning',
        secretCacheSeconds: 120,
      },
    }),
  );
  defaults = synthesize(cdkJsonContext());
  six = synthesize({ ...cdkJsonContext(), configFile: join(dir, 'six.json') });
}, 240_000);

afterAll(() => {
  // Each cloud assembly holds a copy of the 50 MB geolocation table.
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('stacks and environments', () => {
  it('makes a home stack and one regional stack per region, each with an explicit account and region', () => {
    // Act
    const stacks = [...six.regional.values()];

    // Assess
    expect([...defaults.regional.keys()]).toEqual(['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2']);
    expect(stacks.map((s) => s.region)).toEqual([...SIX_REGIONS]);
    expect(stacks.every((s) => s.account === '210987654321')).toBe(true);
    expect(six.home.region).toBe('us-east-1');
    expect(defaults.home.account).toBe('111111111111');
    expect(stacks.every((s) => s.dependencies.includes(six.home))).toBe(true);
    expect(six.home.terminationProtection).toBe(true);
  });
});

describe('regional stacks', () => {
  it('wire every template to its hook, with the role and the body from infra/templates', () => {
    for (const s of [defaults, six]) {
      for (const stack of s.regional.values()) {
        // Prepare
        const template = Template.fromStack(stack);
        const hookId = logicalId(stack, stack.hookFunction);

        // Assess
        template.resourceCountIs('AWS::IoT::ProvisioningTemplate', 1);
        template.hasResourceProperties('AWS::IoT::ProvisioningTemplate', {
          TemplateName: 'GlobalFleetProvisioning',
          TemplateType: 'FLEET_PROVISIONING',
          Enabled: true,
          TemplateBody: s.config.template.body,
          ProvisioningRoleArn: { 'Fn::GetAtt': [logicalId(stack, stack.provisioningRole), 'Arn'] },
          PreProvisioningHook: { PayloadVersion: '2020-04-01', TargetArn: { 'Fn::GetAtt': [hookId, 'Arn'] } },
        });
        const [templateResource] = Object.values(template.findResources('AWS::IoT::ProvisioningTemplate'));
        const permissions = template.findResources('AWS::Lambda::Permission', { Properties: { FunctionName: { 'Fn::GetAtt': [hookId, 'Arn'] } } });
        expect(templateResource?.DependsOn).toEqual(expect.arrayContaining(Object.keys(permissions)));
      }
    }
  });

  it("scope the hook's permission to iot.amazonaws.com, the account and the template", () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const template = Template.fromStack(stack);
      const hookId = logicalId(stack, stack.hookFunction);

      // Act
      const permissions = Object.values(
        template.findResources('AWS::Lambda::Permission', { Properties: { FunctionName: { 'Fn::GetAtt': [hookId, 'Arn'] } } }),
      );

      // Assess
      expect(permissions).toHaveLength(1);
      expect(permissions[0]?.Properties).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [hookId, 'Arn'] },
        Principal: 'iot.amazonaws.com',
        SourceAccount: '210987654321',
        SourceArn: `arn:aws:iot:${stack.region}:210987654321:provisioningtemplate/GlobalFleetProvisioning`,
      });
    }
  });

  it('give every Lambda permission a source account and source ARN', () => {
    for (const stack of allStacks(six)) {
      for (const permission of Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Permission'))) {
        expect(permission.Properties.SourceArn).toBeDefined();
        if (permission.Properties.Principal === 'iot.amazonaws.com') expect(permission.Properties.SourceAccount).toBe('210987654321');
      }
    }
  });

  it('let the claim certificate use exactly the fleet-provisioning topics of its template', () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const arn = (resource: string) => `arn:aws:iot:${stack.region}:210987654321:${resource}`;
      const topics = ['$aws/certificates/create/*', '$aws/certificates/create-from-csr/*', '$aws/provisioning-templates/GlobalFleetProvisioning/provision/*'];

      // Act
      const policies = Template.fromStack(stack).findResources('AWS::IoT::Policy', { Properties: { PolicyName: 'GlobalFleetClaimPolicy' } });

      // Assess
      expect(fleetProvisioningTopics('GlobalFleetProvisioning')).toEqual(topics);
      expect(Object.values(policies)).toHaveLength(1);
      expect(Object.values(policies)[0]?.Properties.PolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/*') },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => arn(`topic/${t}`)) },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => arn(`topicfilter/${t}`)) },
        ],
      });
    }
  });

  it('scope the device policy to the connecting thing', () => {
    for (const stack of defaults.regional.values()) {
      // Act
      const policies = Object.values(Template.fromStack(stack).findResources('AWS::IoT::Policy', { Properties: { PolicyName: 'GlobalFleetDevicePolicy' } }));
      const statements = (policies[0]?.Properties.PolicyDocument.Statement ?? []) as Statement[];

      // Assess
      expect(policies).toHaveLength(1);
      expect(statements.flatMap((s) => asList(s.Action)).sort()).toEqual(['iot:Connect', 'iot:Publish', 'iot:Receive', 'iot:Subscribe']);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        for (const resource of asList(statement.Resource as string | string[])) {
          expect(resource).toContain(`:${stack.region}:111111111111:`);
          expect(resource).toContain(THING_NAME_VARIABLE);
          // Nothing may widen the scope before the thing name.
          expect(resource.slice(0, resource.indexOf(THING_NAME_VARIABLE))).not.toContain('*');
        }
      }
      expect(statements.find((s) => s.Action === 'iot:Connect')).toEqual({
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: `arn:aws:iot:${stack.region}:111111111111:client/${THING_NAME_VARIABLE}`,
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': true } },
      });
    }
  });

  it('register the claim certificate without a CA and attach the claim policy, when one is configured', () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const template = Template.fromStack(stack);
      const certificateId = Object.keys(template.findResources('AWS::IoT::Certificate'))[0];

      // Assess
      template.hasResourceProperties('AWS::IoT::Certificate', { CertificateMode: 'SNI_ONLY', CertificatePem: claimCertificatePem, Status: 'ACTIVE' });
      template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', {
        PolicyName: { Ref: stack.getLogicalId(stack.claimPolicy) },
        Principal: { 'Fn::GetAtt': [certificateId, 'Arn'] },
      });
    }
    for (const stack of defaults.regional.values()) Template.fromStack(stack).resourceCountIs('AWS::IoT::Certificate', 0);
  });

  it('give the provisioning role registration actions only, trusted by IoT for this account', () => {
    // Prepare
    const stack = six.regional.get('ap-south-1') as RegionalStack;
    const template = Template.fromStack(stack);

    // Act
    const role = template.findResources('AWS::IAM::Role')[logicalId(stack, stack.provisioningRole)];
    const actions = (role?.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) =>
      p.PolicyDocument.Statement.flatMap((s) => asList(s.Action)),
    );

    // Assess
    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'iot.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': '210987654321' }, ArnLike: { 'aws:SourceArn': 'arn:aws:iot:ap-south-1:210987654321:*' } },
      },
    ]);
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(actions).toEqual(expect.arrayContaining(['iot:CreateThing', 'iot:AttachThingPrincipal', 'iot:UpdateCertificate', 'iot:AttachPolicy']));
    expect(actions).not.toEqual(expect.arrayContaining(['iot:CreatePolicy']));
    expect(actions.every((a) => a.startsWith('iot:'))).toBe(true);
  });

  it('invoke the confirmation on presence events and pass the hook its settings', () => {
    // Prepare
    const stack = defaults.regional.get('sa-east-1') as RegionalStack;
    const template = Template.fromStack(stack);
    const confirmId = logicalId(stack, stack.confirmFunction);
    const ruleId = Object.keys(template.findResources('AWS::IoT::TopicRule'))[0];

    // Assess
    template.hasResourceProperties('AWS::IoT::TopicRule', {
      TopicRulePayload: Match.objectLike({
        Sql: "SELECT * FROM '$aws/events/presence/connected/+'",
        Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [confirmId, 'Arn'] } } }],
        ErrorAction: Match.objectLike({ CloudwatchLogs: Match.anyValue() }),
      }),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [confirmId, 'Arn'] },
      Principal: 'iot.amazonaws.com',
      SourceAccount: '111111111111',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 5,
      Environment: {
        Variables: {
          REGISTRY_TABLE: 'iot-device-registry',
          REGISTRY_REGION: 'us-east-1',
          TICKET_PUBLIC_KEYS: JSON.stringify(cdkJsonContext().ticketPublicKeys),
          MAX_PROVISION_ATTEMPTS: '3',
          REQUIRE_CLIENT_ID_MATCH: 'true',
          POWERTOOLS_SERVICE_NAME: 'pre-provisioning-hook',
          POWERTOOLS_METRICS_NAMESPACE: 'GlobalIotProvisioning',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: 'arn:aws:dynamodb:us-east-1:111111111111:table/iot-device-registry' },
        ]),
      }),
    });
    expect(template.findResources('AWS::Lambda::Function')[confirmId]?.Properties.Environment.Variables).toEqual({
      REGISTRY_TABLE: 'iot-device-registry',
      REGISTRY_REGION: 'us-east-1',
      POWERTOOLS_SERVICE_NAME: 'provisioning-confirmation',
      POWERTOOLS_METRICS_NAMESPACE: 'GlobalIotProvisioning',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('name the metrics namespace from the configuration in every function', () => {
    for (const stack of allStacks(six)) {
      for (const fn of Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Six/Provisioning');
      }
    }
  });
});

/**
 * The regional stack's logical ids as they were before its resources were grouped in constructs:
 * a changed id replaces the resource on deploy, and replacing a named one (template, policies,
 * the claim certificate) fails because the new one's name is taken.
 */
const REGIONAL_LOGICAL_IDS = [
  'ClaimCertificate',
  'ClaimCertificatePolicy',
  'ClaimPolicy',
  'DevicePolicy',
  'PreProvisioningHook26D7000F',
  'PreProvisioningHookInvokeByIotProvisioning272A7ED5',
  'PreProvisioningHookLogsBF0DFB3F',
  'PreProvisioningHookRole4387DC29',
  'PreProvisioningHookRoleDefaultPolicyDBAE4A27',
  'PresenceConnectedRule',
  'PresenceRuleErrorRoleDefaultPolicy9FD1D45F',
  'PresenceRuleErrorRoleEB93D0E7',
  'PresenceRuleErrorsC1802DC9',
  'ProvisioningConfirmation01902736',
  'ProvisioningConfirmationInvokeByPresenceRule6B256072',
  'ProvisioningConfirmationLogs5E13B8D9',
  'ProvisioningConfirmationRole9198BEF5',
  'ProvisioningConfirmationRoleDefaultPolicy73CD2D1D',
  'ProvisioningRole2348A7C9',
  'ProvisioningTemplate',
];

describe('regional stack composition', () => {
  it('is four constructs: device policy, template with its hook, claim certificate, presence confirmation', () => {
    // Prepare
    const stack = six.regional.get('eu-central-1') as RegionalStack;

    // Act
    const children = stack.node.children.filter((c) => c instanceof Construct && !(c instanceof CfnElement)).map((c) => [c.node.id, c.constructor.name]);

    // Assess
    expect(children).toEqual([
      ['Device', 'DevicePolicy'],
      ['Template', 'ProvisioningTemplate'],
      ['Claim', 'ClaimCertificate'],
      ['Confirmation', 'PresenceConfirmation'],
    ]);
  });

  it('keeps the logical ids the resources had before they were grouped', () => {
    for (const stack of six.regional.values()) {
      // Act
      const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, unknown>; Outputs: Record<string, unknown> };

      // Assess
      expect(Object.keys(template.Resources).sort()).toEqual(REGIONAL_LOGICAL_IDS);
      expect(Object.keys(template.Outputs).sort()).toEqual(['ClaimCertificateId', 'ClaimPolicyName', 'TemplateName']);
    }
    for (const stack of defaults.regional.values()) {
      const ids = Object.keys((Template.fromStack(stack).toJSON() as { Resources: Record<string, unknown> }).Resources).sort();
      expect(ids).toEqual(REGIONAL_LOGICAL_IDS.filter((id) => !id.startsWith('ClaimCertificate')));
    }
  });
});

describe('home stack', () => {
  it('keeps the registry table safe: point-in-time recovery, deletion protection, encryption, retained', () => {
    // Prepare
    const template = Template.fromStack(defaults.home);

    // Assess
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: 'iot-device-registry',
        KeySchema: [{ AttributeName: 'thing_name', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'thing_name', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('gives the admission limiter a table of its own with TTL, which the bootstrap may only update', () => {
    // Prepare
    const stack = defaults.home;
    const template = Template.fromStack(stack);
    const tableId = logicalId(stack, stack.admissionTable as Construct);

    // Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'iot-bootstrap-admission',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: [{ 'Fn::GetAtt': [tableId, 'Arn'] }] }]),
      }),
    });
  });

  it('throttles the API, routes only POST /bootstrap, and logs requests without bodies', () => {
    // Prepare
    const template = Template.fromStack(six.home);

    // Act
    const stages = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
    const format = JSON.parse(stages[0]?.Properties.AccessLogSettings.Format as string) as Record<string, string>;

    // Assess
    expect(stages).toHaveLength(1);
    expect(stages[0]?.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    expect(Object.values(format).every((v) => /^\$context\.[A-Za-z.]+$/.test(v))).toBe(true);
    expect(JSON.stringify(format)).not.toMatch(/body|authorizer|header/i);
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /bootstrap' });
    Template.fromStack(defaults.home).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
  });

  it('gives the bootstrap the signing secret, the configuration and the geolocation table in its bundle', () => {
    // Prepare
    const stack = defaults.home;
    const template = Template.fromStack(stack);
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack, stack.bootstrapFunction)];
    const assembly = defaults.app.synth();

    // Act
    const key = fn?.Properties.Code.S3Key as string;
    const bundle = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);

    // Assess
    expect(fn?.Properties.Environment.Variables).toMatchObject({
      REGISTRY_TABLE: 'iot-device-registry',
      TICKET_SIGNING_SECRET_ARN: { Ref: logicalId(stack, stack.signingSecret) },
      SECRET_CACHE_SECONDS: '300',
      GEO_DB_PATH: `/var/task/geo/${GEO_TABLE_FILE_NAME}`,
      POWERTOOLS_SERVICE_NAME: 'bootstrap',
      POWERTOOLS_METRICS_NAMESPACE: 'GlobalIotProvisioning',
    });
    expect(JSON.parse(fn?.Properties.Environment.Variables.BOOTSTRAP_CONFIG as string)).toEqual(defaults.config.deployment);
    expect(statSync(join(bundle, 'geo', GEO_TABLE_FILE_NAME)).size).toBe(statSync(defaultGeoTablePath()).size);
    expect(existsSync(join(bundle, 'index.mjs'))).toBe(true);
    expect(existsSync(join(bundle, 'index.mjs.map'))).toBe(true);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'GlobalIot/ticket-signing-key' });
  });
});

describe('every function', () => {
  it('runs on the newest Node.js runtime, arm64, traced, with source maps and a retained log group', () => {
    // Prepare
    const newest = lambda.Runtime.ALL.filter((r) => /^nodejs\d+\.x$/.test(r.name)).sort((a, b) => Number.parseInt(b.name.slice(6), 10) - Number.parseInt(a.name.slice(6), 10))[0];

    // Assess
    expect(NODE_RUNTIME.name).toBe(newest?.name);
    for (const stack of allStacks(six)) {
      const template = Template.fromStack(stack);
      const functions = Object.values(template.findResources('AWS::Lambda::Function'));
      expect(functions.length).toBeGreaterThan(0);
      for (const fn of functions) {
        expect(fn.Properties).toMatchObject({
          Runtime: NODE_RUNTIME.name,
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
          Handler: 'index.handler',
        });
        expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
      }
      for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
        expect(group.Properties.RetentionInDays).toBe(90);
      }
    }
  });
});

describe('least privilege and cdk-nag', () => {
  const UNSCOPED_ALLOWED = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'iot:DescribeEndpoint']);

  it('grants no wildcard action, and "*" resources only to actions without resource-level permissions', () => {
    for (const s of [defaults, six]) {
      for (const stack of allStacks(s)) {
        for (const statement of iamStatements(Template.fromStack(stack))) {
          const actions = asList(statement.Action);
          expect(actions.filter((a) => a.includes('*'))).toEqual([]);
          if (statement.Resource === '*') expect(actions.filter((a) => !UNSCOPED_ALLOWED.has(a))).toEqual([]);
        }
      }
    }
  });

  it('leaves no unacknowledged AwsSolutions finding', () => {
    for (const s of [defaults, six]) {
      // Act
      const report = new AwsSolutionsChecks().validateScope(s.app);

      // Assess
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
    }
  });

  it('acknowledges only findings that occur, each with a specific reason', () => {
    // Prepare: the same pack, blind to acknowledgements, lists every finding there is.
    class Unacknowledged extends AwsSolutionsChecks {}
    Object.defineProperty(Unacknowledged.prototype, 'isAcknowledged', { value: () => false });
    const found = new Set(new Unacknowledged().validateScope(six.app).violations.map((v) => v.ruleName));

    // Act
    const acknowledged = six.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ id: id.replace(/^annotation::/i, ''), reason }));

    // Assess
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(found, id).toContain(id);
      expect(reason.length, id).toBeGreaterThan(60);
    }
    // Whatever cdk-nag finds is either acknowledged or absent (previous test).
    expect([...found].every((id) => acknowledged.some((a) => a.id === id))).toBe(true);
  });
});

describe('bundles', () => {
  it('load as ESM on Node.js and export a handler: hook and confirmation', async () => {
    // Prepare
    const stack = defaults.regional.get('eu-central-1') as RegionalStack;
    const env = { AWS_REGION: 'eu-central-1', REGISTRY_TABLE: 't', REGISTRY_REGION: 'us-east-1' };

    // Act
    const hook = await loadBundle(bundleOf(defaults, stack, stack.hookFunction), {
      ...env,
      TICKET_PUBLIC_KEYS: JSON.stringify(defaults.config.ticketPublicKeys),
    });
    const confirm = await loadBundle(bundleOf(defaults, stack, stack.confirmFunction), env);

    // Assess
    expect(hook).toBe('function');
    expect(confirm).toBe('function');
  });

  it('load the bootstrap with its signing key from Secrets Manager and the geolocation table from the bundle', async () => {
    // Prepare: Secrets Manager's JSON protocol on a local port, answering GetSecretValue.
    const privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const secretArn = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:k';
    const sm = await startSecretsManagerStandIn();
    sm.set(secretArn, JSON.stringify({ kid: 'k1', privateKeyPem }));
    const bundle = bundleOf(defaults, defaults.home, defaults.home.bootstrapFunction);

    // Act
    let loaded: string;
    try {
      loaded = await loadBundle(bundle, {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
        REGISTRY_TABLE: 'iot-device-registry',
        BOOTSTRAP_CONFIG: JSON.stringify(defaults.config.deployment),
        TICKET_SIGNING_SECRET_ARN: secretArn,
        GEO_DB_PATH: join(bundle, 'geo', GEO_TABLE_FILE_NAME),
      });
    } finally {
      await sm.close();
    }

    // Assess
    expect(loaded).toBe('function');
    expect(sm.calls).toEqual(['secretsmanager.GetSecretValue']);
  });
});
