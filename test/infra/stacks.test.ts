/**
 * Assertion tests over two real syntheses, shared by every test: the default cdk.json deployment
 * (five regions) and a six-region deployment from a config file with a claim certificate. Both
 * bundle the real handlers with esbuild and run cdk-nag's AwsSolutions pack.
 */
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct, type IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGeoTablePath, GEO_TABLE_FILE_NAME } from '@global-iot/core/geo/table.js';
import { NODE_RUNTIME } from '@global-iot/infra/constructs/provisioning-function.js';
import { type Deployment, defineDeployment } from '@global-iot/infra/deployment.js';
import { fleetProvisioningTopics, THING_NAME_VARIABLE } from '@global-iot/infra/iot-policies.js';
import type { OriginCheck } from '@global-iot/infra/constructs/origin-check.js';
import type { EdgeStack } from '@global-iot/infra/stacks/edge-stack.js';
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
/** Home in eu-central-1, two regions, the edge on a name of its own in a hosted zone, one IoT configurable endpoint. */
let edged: Synthesized;
/** One region, the bootstrap API on a name of its own (certificate by ARN), no edge. */
let direct: Synthesized;
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
  return [s.home, ...s.regional.values(), ...(s.edge === undefined ? [] : [s.edge])];
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

/**
 * Loads a bundle in a fresh Node.js process, as Lambda would, and reports whether it exports a
 * handler, and ' +undici' if loading it loaded Node's undici (about 20 ms of CPU at a cold start
 * that the functions never use: infra/bundling/node-http.ts).
 */
async function loadBundle(dir: string, env: Record<string, string>): Promise<string> {
  const script = [
    `const m = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});`,
    "const undici = process.moduleLoadList.some((name) => name.includes('undici'));",
    "process.stdout.write(typeof m.handler + (undici ? ' +undici' : ''));",
  ].join(' ');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', AWS_EC2_METADATA_DISABLED: 'true', ...env },
    timeout: 20_000,
  });
  return stdout;
}

/** What the endpoint lookups would answer on deploy: `<prefix>-ats.iot.<region>.amazonaws.com`. */
function deployedEndpoints(s: Synthesized): Record<string, string> {
  return Object.fromEntries(Object.keys(s.home.dataEndpoints?.endpoints ?? {}).map((region) => [region, `a1b2c3d4e5f6g7-ats.iot.${region}.amazonaws.com`]));
}

/** The source files a bundle was built from, as its source map lists them. */
function bundledSources(dir: string): string[] {
  return (JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] }).sources;
}

/** The logical id prefix of the function CDK's AwsCustomResources share (the endpoint lookups). */
const CUSTOM_RESOURCE_PROVIDER = `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;

/** The stack's functions but CDK's provider of the deploy-time endpoint lookups (home stack tests). */
function productFunctions(stack: Stack): ReturnType<Template['findResources']>[string][] {
  return Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
    .filter(([id]) => !id.startsWith(CUSTOM_RESOURCE_PROVIDER))
    .map(([, fn]) => fn);
}

const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

const EU_CERTIFICATE = 'arn:aws:acm:eu-central-1:210987654321:certificate/11111111-2222-3333-4444-555555555555';
const US_CERTIFICATE = 'arn:aws:acm:us-east-1:210987654321:certificate/66666666-7777-8888-9999-000000000000';

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
        alarmEmail: 'ops@example.com',
        alarms: { periodMinutes: 1, hookP99DurationMs: 3500, hookDenials: 50, bootstrap5xxPercent: 2 },
        edge: { rateLimit: 120, rateWindowSeconds: 60 },
      },
    }),
  );
  writeFileSync(
    join(dir, 'edged.json'),
    JSON.stringify({
      homeRegion: 'eu-central-1',
      regions: ['eu-central-1', 'us-east-1'],
      defaultRegion: 'eu-central-1',
      account: '210987654321',
      infra: {
        bootstrapDomain: { name: 'bootstrap.devices.example.com', hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'devices.example.com' } },
        iotDomains: { 'eu-central-1': { name: 'mqtt-eu.devices.example.com', certificateArn: EU_CERTIFICATE } },
        edge: { originSecretGeneration: 3 },
      },
    }),
  );
  writeFileSync(
    join(dir, 'direct.json'),
    JSON.stringify({
      homeRegion: 'us-east-1',
      regions: ['us-east-1'],
      defaultRegion: 'us-east-1',
      account: '210987654321',
      infra: { bootstrapDomain: { name: 'bootstrap.devices.example.com', certificateArn: US_CERTIFICATE } },
    }),
  );
  defaults = synthesize(cdkJsonContext());
  six = synthesize({ ...cdkJsonContext(), configFile: join(dir, 'six.json') });
  edged = synthesize({ ...cdkJsonContext(), configFile: join(dir, 'edged.json') });
  direct = synthesize({ ...cdkJsonContext(), configFile: join(dir, 'direct.json') });
}, 360_000);

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

  it('protects every stack from deletion and tags it, as a stack, for the whole project', () => {
    for (const s of [defaults, six]) {
      for (const stack of allStacks(s)) {
        // Act
        const artifact = s.app.synth().getStackByName(stack.stackName);

        // Assess
        expect(stack.terminationProtection, stack.stackName).toBe(true);
        expect(artifact.terminationProtection, stack.stackName).toBe(true);
        expect(artifact.tags, stack.stackName).toEqual({ project: 'global-iot-provisioning' });
      }
    }
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
        // The product template and the rotation template, with the same role and hook.
        template.resourceCountIs('AWS::IoT::ProvisioningTemplate', 2);
        for (const [name, body] of [
          ['GlobalFleetProvisioning', s.config.template.body],
          ['GlobalFleetRotation', s.config.rotationTemplate.body],
        ] as const) {
          template.hasResourceProperties('AWS::IoT::ProvisioningTemplate', {
            TemplateName: name,
            TemplateType: 'FLEET_PROVISIONING',
            Enabled: true,
            TemplateBody: body,
            ProvisioningRoleArn: { 'Fn::GetAtt': [logicalId(stack, stack.provisioningRole), 'Arn'] },
            PreProvisioningHook: { PayloadVersion: '2020-04-01', TargetArn: { 'Fn::GetAtt': [hookId, 'Arn'] } },
          });
        }
        const permissions = template.findResources('AWS::Lambda::Permission', { Properties: { FunctionName: { 'Fn::GetAtt': [hookId, 'Arn'] } } });
        for (const templateResource of Object.values(template.findResources('AWS::IoT::ProvisioningTemplate'))) {
          expect(templateResource.DependsOn).toEqual(expect.arrayContaining(Object.keys(permissions)));
        }
      }
    }
  });

  it("scope the hook's permission to iot.amazonaws.com and the account, with no source ARN AWS does not document", () => {
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
      });
    }
  });

  it('give every permission for AWS IoT the source account', () => {
    for (const stack of allStacks(six)) {
      for (const permission of Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Permission'))) {
        if (permission.Properties.Principal === 'iot.amazonaws.com') expect(permission.Properties.SourceAccount).toBe('210987654321');
        else expect(permission.Properties.SourceArn).toBeDefined();
      }
    }
  });

  it('let the claim certificate connect only under the claim client-id prefix and use exactly the fleet-provisioning topics of its template', () => {
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
          // Never `client/*`: the claim certificate must not be able to take a device's client id.
          { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/prov-*') },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => arn(`topic/${t}`)) },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => arn(`topicfilter/${t}`)) },
        ],
      });
    }
  });

  it('scope the device policy to the connecting thing, its one confirmation topic, and the rotation template', () => {
    for (const stack of defaults.regional.values()) {
      // Act
      const policies = Object.values(Template.fromStack(stack).findResources('AWS::IoT::Policy', { Properties: { PolicyName: 'GlobalFleetDevicePolicy' } }));
      const statements = (policies[0]?.Properties.PolicyDocument.Statement ?? []) as Statement[];
      const confirmation = `arn:aws:iot:${stack.region}:111111111111:topic/$aws/rules/GlobalIotConfirmation/provisioning/confirm`;
      const isRotation = (s: Statement) => asList(s.Resource as string | string[]).some((r) => r.includes('$aws/certificates/') || r.includes('$aws/provisioning-templates/'));
      const rotation = statements.filter(isRotation);
      const own = statements.filter((s) => s.Resource !== confirmation && !isRotation(s));

      // Assess
      expect(policies).toHaveLength(1);
      expect(statements.flatMap((s) => asList(s.Action)).sort()).toEqual([
        'iot:Connect',
        'iot:Publish',
        'iot:Publish',
        'iot:Publish',
        'iot:Receive',
        'iot:Receive',
        'iot:RetainPublish',
        'iot:Subscribe',
        'iot:Subscribe',
      ]);
      expect(statements.filter((s) => s.Resource === confirmation)).toEqual([{ Effect: 'Allow', Action: 'iot:Publish', Resource: confirmation }]);
      // The rotation template's fleet-provisioning topics, and no other template's.
      const arn = (kind: string, topic: string) => `arn:aws:iot:${stack.region}:111111111111:${kind}/${topic}`;
      expect(rotation).toEqual([
        { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: fleetProvisioningTopics('GlobalFleetRotation').map((t) => arn('topic', t)) },
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: fleetProvisioningTopics('GlobalFleetRotation').map((t) => arn('topicfilter', t)) },
      ]);
      for (const statement of own) {
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

  it('retain both IoT policies when the stack is deleted, so a region can be removed while certificates hold them', () => {
    for (const s of [defaults, six]) {
      for (const stack of s.regional.values()) {
        // Act
        const policies = Template.fromStack(stack).findResources('AWS::IoT::Policy');

        // Assess
        expect(Object.keys(policies).sort()).toEqual(['ClaimPolicy', 'DevicePolicy']);
        for (const policy of Object.values(policies)) {
          expect(policy).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
        }
      }
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

  it("give the provisioning role AWS's managed registration policy, trusted by IoT for this account and region only", () => {
    // Prepare
    const stack = six.regional.get('ap-south-1') as RegionalStack;
    const template = Template.fromStack(stack);

    // Act
    const role = template.findResources('AWS::IAM::Role')[logicalId(stack, stack.provisioningRole)];

    // Assess
    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'iot.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': '210987654321' }, ArnLike: { 'aws:SourceArn': 'arn:aws:iot:ap-south-1:210987654321:*' } },
      },
    ]);
    expect(role?.Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSIoTThingsRegistration']] },
    ]);
    expect(role?.Properties.Policies).toBeUndefined();
  });

  it('invoke the confirmation from the Basic Ingest confirmation rule only, and pass the hook its settings', () => {
    // Prepare
    const stack = defaults.regional.get('sa-east-1') as RegionalStack;
    const template = Template.fromStack(stack);
    const confirmId = logicalId(stack, stack.confirmFunction);
    const ruleId = Object.keys(template.findResources('AWS::IoT::TopicRule'))[0];

    // Assess
    template.hasResourceProperties('AWS::IoT::TopicRule', {
      RuleName: 'GlobalIotConfirmation',
      TopicRulePayload: Match.objectLike({
        // The thing and the certificate from the connection, never from the payload.
        Sql: "SELECT clientid() AS clientId, principal() AS principal, timestamp() AS receivedAt FROM 'provisioning/confirm'",
        AwsIotSqlVersion: '2016-03-23',
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
          CLAIM_CLIENT_ID_PREFIX: 'prov-',
          LEGACY_CLAIM_CLIENT_IDS: 'false',
          ROTATION_TEMPLATE_NAME: 'GlobalFleetRotation',
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
      REPROVISION_POLICY: 'migrate',
      HISTORY_LIMIT: '20',
      POWERTOOLS_SERVICE_NAME: 'provisioning-confirmation',
      POWERTOOLS_METRICS_NAMESPACE: 'GlobalIotProvisioning',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it("let the confirmation complete moves and rotations: the IoT calls it makes, on things and certificates of every region, and a minute to run", () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const template = Template.fromStack(stack);
      const confirmId = logicalId(stack, stack.confirmFunction);
      const regions = six.config.deployment.regions;
      const arns = (resource: string) => regions.map((region) => `arn:aws:iot:${region}:${six.config.account}:${resource}`);
      const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
        (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === logicalId(stack, stack.confirmFunction.role as IConstruct)),
      );
      // CDK sorts actions and resources: compared as sets.
      const iotStatements = ((policy?.Properties.PolicyDocument.Statement ?? []) as Statement[])
        .filter((st) => st.Resource !== '*' && asList(st.Action).some((a) => a.startsWith('iot:')))
        .map((st) => ({ Effect: st.Effect, Action: asList(st.Action).sort(), Resource: asList(st.Resource as string | string[]).sort() }));
      const sorted = (values: string[]) => [...values].sort();

      // Assess
      expect(regions.length).toBeGreaterThan(1);
      expect(iotStatements).toEqual([
        { Effect: 'Allow', Action: sorted(['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListAttachedPolicies']), Resource: sorted(arns('cert/*')) },
        { Effect: 'Allow', Action: ['iot:DetachPolicy'], Resource: sorted([...arns('cert/*'), ...arns('policy/GlobalFleetDevicePolicy')]) },
        {
          Effect: 'Allow',
          Action: sorted([
            'iot:ListThingPrincipals',
            'iot:DetachThingPrincipal',
            'iot:DescribeThing',
            'iot:UpdateThing',
            'iot:DeleteThing',
            'iot:GetThingShadow',
            'iot:UpdateThingShadow',
            'iot:DeleteThingShadow',
          ]),
          Resource: sorted(arns('thing/*')),
        },
      ]);
      expect(template.findResources('AWS::Lambda::Function')[confirmId]?.Properties.Timeout).toBe(60);
      // The account's data endpoint of each region (DescribeEndpoint has no resource-level permissions).
      expect(((policy?.Properties.PolicyDocument.Statement ?? []) as Statement[]).filter((st) => st.Resource === '*').flatMap((st) => asList(st.Action)).sort()).toEqual([
        'iot:DescribeEndpoint',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });

  it('name the metrics namespace from the configuration in every function', () => {
    for (const stack of allStacks(six)) {
      for (const fn of productFunctions(stack)) {
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
  // In the presence rule's place: the Basic Ingest confirmation rule is a new resource (a named rule).
  'ConfirmationRule',
  'DevicePolicy',
  'PreProvisioningHook26D7000F',
  'PreProvisioningHookInvokeByIotProvisioning272A7ED5',
  'PreProvisioningHookLogsBF0DFB3F',
  'PreProvisioningHookRole4387DC29',
  'PreProvisioningHookRoleDefaultPolicyDBAE4A27',
  'PresenceRuleErrorRoleDefaultPolicy9FD1D45F',
  'PresenceRuleErrorRoleEB93D0E7',
  'PresenceRuleErrorsC1802DC9',
  'ProvisioningConfirmation01902736',
  'ProvisioningConfirmationInvokeByConfirmationRule88BEC482',
  'ProvisioningConfirmationLogs5E13B8D9',
  'ProvisioningConfirmationRole9198BEF5',
  'ProvisioningConfirmationRoleDefaultPolicy73CD2D1D',
  'ProvisioningRole2348A7C9',
  'ProvisioningTemplate',
  // New with the lifecycle: the rotation template beside the product template.
  'RotationTemplate',
];

/** What the regional stack gained for operations (alarms and the confirmation's failure queue). */
const OPERATIONS_LOGICAL_IDS = [
  'AlarmTopicC2164170',
  'AlarmTopicPolicyDD12BE57',
  'Alarmsconfirmationfailurequeue77C611CE',
  'AlarmsconfirmationfailuresACFD92C9',
  'Alarmshookdenials894828A7',
  'Alarmshookduration9315F8FC',
  'Alarmshookerrors2CAB8D1A',
  'ConfirmationFailuresAsyncInvoke8DBD5133',
  'ConfirmationFailuresDeadLetters55F302B8',
  'ConfirmationFailuresDeadLettersPolicy6F0D6867',
  'ConfirmationFailuresQueue9CAD2FFA',
  'ConfirmationFailuresQueuePolicy90F636BB',
];

describe('regional stack composition', () => {
  it('is four constructs (device policy, template with its hook, claim certificate, confirmation rule) and three for operations', () => {
    // Prepare
    const stack = six.regional.get('eu-central-1') as RegionalStack;

    // Act
    const children = stack.node.children.filter((c) => c instanceof Construct && !(c instanceof CfnElement)).map((c) => [c.node.id, c.constructor.name]);

    // Assess
    expect(children).toEqual([
      ['Device', 'DevicePolicy'],
      ['Template', 'ProvisioningTemplate'],
      ['Claim', 'ClaimCertificate'],
      ['Confirmation', 'ProvisioningConfirmation'],
      ['AlarmTopic', 'AlarmTopic'],
      ['ConfirmationFailures', 'ConfirmationFailures'],
      ['Alarms', 'RegionalAlarms'],
    ]);
  });

  it('keeps the logical ids the resources had before they were grouped', () => {
    for (const stack of six.regional.values()) {
      // Act
      const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, unknown>; Outputs: Record<string, unknown> };

      // Assess
      // The six-region configuration subscribes an e-mail address to the alarm topic.
      expect(Object.keys(template.Resources).sort()).toEqual([...REGIONAL_LOGICAL_IDS, ...OPERATIONS_LOGICAL_IDS, 'AlarmTopicopsexamplecomFFC02C67'].sort());
      expect(Object.keys(template.Outputs).sort()).toEqual(['AlarmTopicArn', 'ClaimCertificateId', 'ClaimPolicyName', 'TemplateName']);
    }
    for (const stack of defaults.regional.values()) {
      const ids = Object.keys((Template.fromStack(stack).toJSON() as { Resources: Record<string, unknown> }).Resources).sort();
      expect(ids).toEqual([...REGIONAL_LOGICAL_IDS.filter((id) => !id.startsWith('ClaimCertificate')), ...OPERATIONS_LOGICAL_IDS].sort());
    }
  });
});

describe('operations', () => {
  it("give the confirmation's asynchronous invocation an encrypted failure queue with a dead-letter queue of its own", () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const template = Template.fromStack(stack);
      const queueId = logicalId(stack, stack.confirmationFailures.queue);
      const dlqId = logicalId(stack, stack.confirmationFailures.deadLetterQueue);

      // Act
      const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'));

      // Assess
      expect(configs).toHaveLength(1);
      expect(configs[0]?.Properties).toEqual({
        FunctionName: { Ref: logicalId(stack, stack.confirmFunction) },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: 'GlobalIot-confirmation-failures',
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 10 },
      });
      template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'GlobalIot-confirmation-failures-dlq', SqsManagedSseEnabled: true });
      for (const policy of Object.values(template.findResources('AWS::SQS::QueuePolicy'))) {
        expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
      const confirmRolePolicy = template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: logicalId(stack, stack.confirmFunction.role as iam.Role) }] },
      });
      expect(JSON.stringify(confirmRolePolicy)).toContain('sqs:SendMessage');
    }
  });

  it("alarm on the hook and the confirmation in every region, to the region's topic, at the configured thresholds", () => {
    for (const stack of six.regional.values()) {
      // Prepare
      const template = Template.fromStack(stack);
      const topic = { Ref: logicalId(stack, stack.alarmTopic.topic) };
      const name = (suffix: string) => `GlobalIot-${stack.region}-${suffix}`;
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));

      // Act
      const byName = new Map(alarms.map((a) => [a.Properties.AlarmName as string, a.Properties as Record<string, unknown>]));

      // Assess
      expect([...byName.keys()].sort()).toEqual(
        ['confirmation-failure-queue', 'confirmation-failures', 'hook-denials', 'hook-duration', 'hook-errors'].map(name),
      );
      for (const alarm of byName.values()) {
        expect(alarm).toMatchObject({ AlarmActions: [topic], OKActions: [topic], TreatMissingData: 'notBreaching', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      }
      expect(byName.get(name('hook-duration'))).toMatchObject({
        MetricName: 'Duration',
        Namespace: 'AWS/Lambda',
        ExtendedStatistic: 'p99',
        Period: 60,
        Threshold: 3500,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.hookFunction) } }],
      });
      expect(byName.get(name('hook-denials'))).toMatchObject({
        Namespace: 'Six/Provisioning',
        MetricName: 'Invocations',
        Threshold: 50,
        Dimensions: [
          { Name: 'Outcome', Value: 'deny' },
          { Name: 'service', Value: 'pre-provisioning-hook' },
        ],
      });
      const errors = byName.get(name('hook-errors'))?.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: Record<string, unknown> } }[];
      expect(errors.find((m) => m.Expression)?.Expression).toBe('FILL(crashes, 0) + FILL(r0, 0) + FILL(r1, 0) + FILL(r2, 0)');
      expect(errors.filter((m) => m.MetricStat).map((m) => m.MetricStat?.Metric.Dimensions)).toEqual([
        [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.hookFunction) } }],
        ...['internal error', 'registry unavailable', 'deadline exceeded'].map((reason) => [
          { Name: 'Reason', Value: reason },
          { Name: 'service', Value: 'pre-provisioning-hook' },
        ]),
      ]);
      expect(byName.get(name('confirmation-failures'))).toMatchObject({
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.confirmFunction) } }],
      });
      expect(byName.get(name('confirmation-failure-queue'))).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Threshold: 1,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, stack.confirmationFailures.queue), 'QueueName'] } }],
      });
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: topic });
    }
    for (const stack of defaults.regional.values()) Template.fromStack(stack).resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('alarm on the bootstrap API: 5xx and 429 rates over a minimum of requests, p99 latency, stage throttling', () => {
    // Prepare
    const template = Template.fromStack(six.home);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties as Record<string, unknown>);
    const byName = new Map(alarms.map((a) => [a.AlarmName as string, a]));
    const expressionOf = (alarm: string) =>
      (byName.get(`GlobalIot-bootstrap-${alarm}`)?.Metrics as { Expression?: string }[]).find((m) => m.Expression)?.Expression;

    // Assess
    expect([...byName.keys()].sort()).toEqual(['GlobalIot-bootstrap-429-rate', 'GlobalIot-bootstrap-5xx-rate', 'GlobalIot-bootstrap-api-throttled', 'GlobalIot-bootstrap-p99-latency']);
    expect(byName.get('GlobalIot-bootstrap-5xx-rate')).toMatchObject({ Threshold: 2 });
    expect(expressionOf('5xx-rate')).toBe('IF(requests >= 20, 100 * FILL(answered5xx, 0) / requests, 0)');
    expect(expressionOf('429-rate')).toBe('IF(requests >= 20, 100 * FILL(answered429, 0) / requests, 0)');
    expect(expressionOf('api-throttled')).toBe('IF(FILL(all429, 0) > FILL(own429, 0), FILL(all429, 0) - FILL(own429, 0), 0)');
    expect(byName.get('GlobalIot-bootstrap-p99-latency')).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: 3000 });
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.status = "429" }',
      LogGroupName: { Ref: logicalId(six.home, six.home.accessLogs) },
      MetricTransformations: [{ MetricName: 'BootstrapApi429', MetricNamespace: 'Six/Provisioning', MetricValue: '1' }],
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('draw one dashboard in the home region with a row per region, needing nothing from the regional stacks', () => {
    // Prepare
    const template = Template.fromStack(six.home);

    // Act
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);

    // Assess
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.Properties.DashboardName).toBe('GlobalIot-operations');
    for (const region of SIX_REGIONS) {
      expect(body).toContain(`\\"region\\":\\"${region}\\"`);
      expect(body).toContain(`${region}: hook denials by reason`);
    }
    expect(body).toContain('GlobalIot-confirmation-failures-dlq');
    expect(body).toContain('NOT Reason=\\\\\\"allowed\\\\\\" NOT Reason=\\\\\\"repeated\\\\\\"');
    expect(six.home.dependencies).toEqual([]);
    expect(body).toContain('SEARCH(\'Namespace=\\\\\\"AWS/WAFV2\\\\\\" MetricName=\\\\\\"BlockedRequests\\\\\\" WebACL=\\\\\\"GlobalIot-bootstrap-edge\\\\\\"\'');
    expect(JSON.stringify(Template.fromStack(defaults.home).toJSON())).not.toContain('AWS/WAFV2');
  });
});

describe('stable names and the edge', () => {
  it('put the API on a name of its own when there is no edge, and output the URL devices carry', () => {
    // Prepare
    const stack = direct.home;
    const template = Template.fromStack(stack);
    const domainId = logicalId(stack, stack.apiDomain?.domainName as IConstruct);

    // Assess
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'bootstrap.devices.example.com',
      DomainNameConfigurations: [{ CertificateArn: US_CERTIFICATE, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' }],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: logicalId(stack, stack.api) },
      DomainName: { Ref: domainId },
      Stage: '$default',
    });
    template.hasOutput('DeviceBootstrapUrl', { Value: 'https://bootstrap.devices.example.com/bootstrap' });
    template.hasOutput('*', { Value: { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /bootstrap', AuthorizationType: 'NONE' });
    expect(direct.edge).toBeUndefined();
    Template.fromStack(defaults.home).hasOutput('DeviceBootstrapUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(defaults.home, defaults.home.api), 'ApiEndpoint'] }, '/bootstrap']] },
    });
  });

  it('put AWS WAF and CloudFront in us-east-1 in front of the API, reading its host from the home stack', () => {
    // Prepare
    const stack = edged.edge as EdgeStack;
    const template = Template.fromStack(stack);

    // Act
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties.DistributionConfig;
    const origin = distribution.Origins[0];

    // Assess
    expect([stack.region, stack.account, stack.terminationProtection]).toEqual(['us-east-1', '210987654321', true]);
    expect(stack.dependencies).toContain(edged.home);
    expect(origin.DomainName).toEqual({
      'Fn::Join': [
        '',
        [
          { 'Fn::GetStackOutput': { StackName: 'GlobalIot-Home', Region: 'eu-central-1', OutputName: expect.any(String) } },
          '.execute-api.eu-central-1.',
          { Ref: 'AWS::URLSuffix' },
        ],
      ],
    });
    expect(origin.CustomOriginConfig).toEqual({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
    expect(distribution).toMatchObject({
      Aliases: ['bootstrap.devices.example.com'],
      HttpVersion: 'http2and3',
      PriceClass: 'PriceClass_All',
      WebACLId: { 'Fn::GetAtt': [stack.getLogicalId(stack.firewall.webAcl), 'Arn'] },
      ViewerCertificate: { MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      DefaultCacheBehavior: { ViewerProtocolPolicy: 'https-only', CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', Compress: false },
    });
    expect(distribution.DefaultCacheBehavior.AllowedMethods).toContain('POST');
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: Match.objectLike({
        HeadersConfig: {
          HeaderBehavior: 'whitelist',
          Headers: ['CloudFront-Viewer-Address', 'CloudFront-Viewer-Country', 'CloudFront-Viewer-Latitude', 'CloudFront-Viewer-Longitude', 'Content-Type'],
        },
      }),
    });
    template.hasOutput('DeviceBootstrapUrl', { Value: 'https://bootstrap.devices.example.com/bootstrap' });
    expect(Template.fromStack(edged.home).toJSON().Outputs.DeviceBootstrapUrl).toBeUndefined();
  });

  it('send the origin secret to the API from Secrets Manager, never in the template, and redeploy when its generation changes', () => {
    // Prepare
    const stack = edged.edge as EdgeStack;
    const template = Template.fromStack(stack);
    const secretId = logicalId(stack, stack.edge.originSecret);

    // Act
    const headers = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties.DistributionConfig.Origins[0].OriginCustomHeaders;

    // Assess
    expect(headers).toEqual([
      { HeaderName: 'x-origin-verify', HeaderValue: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] } },
      { HeaderName: 'x-origin-generation', HeaderValue: '3' },
    ]);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'GlobalIot/edge-origin-secret',
      GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 48 },
    });
  });

  it('rate-limit each source address at the edge, answering 429 with Retry-After', () => {
    // Prepare
    const template = Template.fromStack(six.edge as EdgeStack);

    // Assess
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Name: 'GlobalIot-bootstrap-edge',
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Name: 'rate-per-source-address',
          VisibilityConfig: { CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true, MetricName: 'GlobalIot-bootstrap-edge-rate-per-source-address' },
          Action: { Block: { CustomResponse: { ResponseCode: 429, ResponseHeaders: [{ Name: 'retry-after', Value: '60' }] } } },
          Statement: { RateBasedStatement: { Limit: 120, AggregateKeyType: 'IP', EvaluationWindowSec: 60 } },
        }),
      ],
    });
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties.DistributionConfig;
    expect(distribution.Aliases).toBeUndefined();
    template.hasOutput('DeviceBootstrapUrl', {
      Value: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::CloudFront::Distribution'))[0], 'DomainName'] }, '/bootstrap']] },
    });
  });

  it('validate the edge name in its hosted zone and point it at CloudFront, IPv4 and IPv6', () => {
    // Prepare
    const template = Template.fromStack(edged.edge as EdgeStack);

    // Assess
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'bootstrap.devices.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'bootstrap.devices.example.com', HostedZoneId: 'Z0123456789ABCDEFGHIJ' }],
    });
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'bootstrap.devices.example.com.',
        Type: type,
        HostedZoneId: 'Z0123456789ABCDEFGHIJ',
        AliasTarget: Match.objectLike({ HostedZoneId: Match.anyValue() }),
      });
    }
  });

  it('let through only requests that carry the origin secret, checked by an authorizer reading it in us-east-1', () => {
    // Prepare
    const stack = edged.home;
    const template = Template.fromStack(stack);
    const check = stack.originCheck as OriginCheck;
    const authorizerId = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0];

    // Assess
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /bootstrap', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.x-origin-verify'],
      AuthorizerResultTtlInSeconds: 300,
    });
    expect(template.findResources('AWS::Lambda::Function')[logicalId(stack, check.fn)]?.Properties.Environment.Variables).toMatchObject({
      ORIGIN_SECRET_ID: 'GlobalIot/edge-origin-secret',
      ORIGIN_SECRET_REGION: 'us-east-1',
      SECRET_CACHE_SECONDS: '300',
    });
    expect(iamStatements(template)).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: 'arn:aws:secretsmanager:us-east-1:210987654321:secret:GlobalIot/edge-origin-secret-??????',
    });
  });

  it('tell the bootstrap to trust CloudFront and to answer with the configurable endpoints', () => {
    // Prepare
    const variables = (s: Synthesized) =>
      Template.fromStack(s.home).findResources('AWS::Lambda::Function')[logicalId(s.home, s.home.bootstrapFunction)]?.Properties.Environment.Variables;

    // Act
    const withEdge = JSON.parse(variables(edged).BOOTSTRAP_CONFIG as string) as Record<string, unknown>;
    const without = JSON.parse(variables(direct).BOOTSTRAP_CONFIG as string) as Record<string, unknown>;

    // Assess
    expect(withEdge.trustedProxy).toEqual({ type: 'cloudfront' });
    expect(withEdge.endpointOverrides).toEqual({ 'eu-central-1': 'mqtt-eu.devices.example.com' });
    expect(without.trustedProxy).toEqual({ type: 'none' });
  });

  it('create the configurable endpoint only in the regions that have one', () => {
    // Prepare
    const eu = edged.regional.get('eu-central-1') as RegionalStack;
    const us = edged.regional.get('us-east-1') as RegionalStack;

    // Assess
    Template.fromStack(eu).hasResourceProperties('AWS::IoT::DomainConfiguration', {
      DomainConfigurationName: 'GlobalIot-data',
      DomainName: 'mqtt-eu.devices.example.com',
      ServerCertificateArns: [EU_CERTIFICATE],
      ServiceType: 'DATA',
      DomainConfigurationStatus: 'ENABLED',
    });
    Template.fromStack(us).resourceCountIs('AWS::IoT::DomainConfiguration', 0);
    Template.fromStack(eu).hasOutput('*', { Value: 'mqtt-eu.devices.example.com' });
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
        Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } }]),
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

  it('looks up at deploy the iot:Data-ATS endpoint of every enabled region without a name of its own, and gives them to the bootstrap', () => {
    for (const [s, looked] of [
      [defaults, ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2']],
      // eu-central-1 answers with its configurable endpoint (endpointOverrides).
      [edged, ['us-east-1']],
    ] as const) {
      // Prepare
      const stack = s.home;
      const template = Template.fromStack(stack);
      const lookups = template.findResources('Custom::IotDataEndpoint');
      const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack, stack.bootstrapFunction)];

      // Act
      const calls = Object.values(lookups).map((r) => JSON.parse(r.Properties.Create as string) as Record<string, unknown>);
      const variable = fn?.Properties.Environment.Variables.IOT_DATA_ENDPOINTS as { 'Fn::Join': [string, unknown[]] };
      const joined = variable['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `<${(part as { 'Fn::GetAtt': string[] })['Fn::GetAtt'].join('.')}>`)).join('');

      // Assess
      expect(calls.map((c) => c.region)).toEqual([...looked]);
      expect(calls.every((c) => c.service === 'IoT' && c.action === 'DescribeEndpoint' && JSON.stringify(c.parameters) === '{"endpointType":"iot:Data-ATS"}')).toBe(true);
      expect(Object.values(lookups).every((r) => r.Properties.Update === r.Properties.Create && r.Properties.InstallLatestAwsSdk === false)).toBe(true);
      const expected = Object.fromEntries(Object.entries(lookups).map(([id, r]) => [(JSON.parse(r.Properties.Create as string) as { region: string }).region, `<${id}.endpointAddress>`]));
      expect(JSON.parse(joined)).toEqual(expected);
    }
  });

  it('lets the bootstrap call no IoT API, and gives the endpoint lookups a role and a retained log group of their own', () => {
    // Prepare
    const stack = six.home;
    const template = Template.fromStack(stack);
    const bootstrapRole = logicalId(stack, stack.bootstrapFunction.role as iam.Role);
    const lookupFunctions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith(CUSTOM_RESOURCE_PROVIDER));

    // Act
    const bootstrapActions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(bootstrapRole))
      .flatMap((p) => (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((st) => asList(st.Action)));

    // Assess
    expect(bootstrapActions.length).toBeGreaterThan(0);
    expect(bootstrapActions.filter((a) => a.startsWith('iot:'))).toEqual([]);
    expect(lookupFunctions).toHaveLength(1);
    const [, provider] = lookupFunctions[0] ?? [];
    const dataEndpoints = stack.dataEndpoints;
    expect(dataEndpoints).toBeDefined();
    expect(provider?.Properties.Role).toEqual({ 'Fn::GetAtt': [logicalId(stack, dataEndpoints?.node.findChild('Role') as iam.Role), 'Arn'] });
    expect(provider?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.stringMatching(/^IotDataEndpointsLogs/) } });
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
      const functions = productFunctions(stack);
      // The edge stack is CloudFront and AWS WAF only.
      expect(functions.length > 0, stack.stackName).toBe(stack !== six.edge);
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
    for (const s of [defaults, six, edged, direct]) {
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
    for (const s of [defaults, six, edged, direct]) {
      // Act
      const report = new AwsSolutionsChecks().validateScope(s.app);

      // Assess
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
    }
  });

  it('acknowledges only findings that occur, each with a specific reason', () => {
    for (const s of [defaults, six, edged, direct]) {
      // Prepare: the same pack, blind to acknowledgements, lists every finding there is.
      class Unacknowledged extends AwsSolutionsChecks {}
      Object.defineProperty(Unacknowledged.prototype, 'isAcknowledged', { value: () => false });
      const found = new Set(new Unacknowledged().validateScope(s.app).violations.map((v) => v.ruleName));

      // Act
      const acknowledged = s.app.node
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
    }
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

  it('carry credentials from the environment alone, without the default chain (SSO, STS, profiles, instance metadata)', () => {
    // Prepare
    const regional = defaults.regional.get('eu-central-1') as RegionalStack;
    const bundles = [
      bundleOf(defaults, defaults.home, defaults.home.bootstrapFunction),
      bundleOf(defaults, regional, regional.hookFunction),
      bundleOf(defaults, regional, regional.confirmFunction),
      bundleOf(six, six.home, (six.home.originCheck as OriginCheck).fn),
    ];

    for (const dir of bundles) {
      // Act
      const sources = bundledSources(dir);

      // Assess
      expect(sources.filter((s) => s.endsWith('infra/bundling/lambda-credentials.ts'))).toHaveLength(1);
      expect(sources.filter((s) => s.includes('@aws-sdk/credential-provider-env/'))).not.toEqual([]);
      expect(sources.filter((s) => /@aws-sdk\/(credential-provider-(?!env\/)|nested-clients\/|token-providers\/)|@smithy\/credential-provider-imds\//.test(s))).toEqual([]);
    }
  });

  it('leave the IoT control plane client out of the bootstrap, which has its endpoints from the deploy', () => {
    // Act
    const bootstrap = bundledSources(bundleOf(defaults, defaults.home, defaults.home.bootstrapFunction));
    const regional = defaults.regional.get('eu-central-1') as RegionalStack;
    const confirm = bundledSources(bundleOf(defaults, regional, regional.confirmFunction));

    // Assess
    expect(bootstrap.filter((s) => s.includes('@aws-sdk/client-iot/'))).toEqual([]);
    expect(bootstrap.filter((s) => s.includes('@aws-sdk/client-secrets-manager/'))).not.toEqual([]);
    // The confirmation does call the control plane (moves, rotations).
    expect(confirm.filter((s) => s.includes('@aws-sdk/client-iot/'))).not.toEqual([]);
  });

  it('fail the bootstrap cold start, naming the variables, when the environment holds no credentials', async () => {
    // Prepare
    const sm = await startSecretsManagerStandIn();
    const bundle = bundleOf(defaults, defaults.home, defaults.home.bootstrapFunction);

    // Act
    let loading: Promise<string>;
    try {
      loading = loadBundle(bundle, {
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
        REGISTRY_TABLE: 'iot-device-registry',
        BOOTSTRAP_CONFIG: JSON.stringify(defaults.config.deployment),
        IOT_DATA_ENDPOINTS: JSON.stringify(deployedEndpoints(defaults)),
        TICKET_SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:k',
        GEO_DB_PATH: join(bundle, 'geo', GEO_TABLE_FILE_NAME),
      });
      await loading.catch(() => undefined);
    } finally {
      await sm.close();
    }

    // Assess
    await expect(loading).rejects.toThrow(/LambdaCredentialsMissingError.*no AWS credentials in the environment: .*AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/);
    expect(sm.calls).toEqual([]);
  });

  it('load the origin check as ESM, reading nothing before its first request', async () => {
    // Prepare
    const check = six.home.originCheck as OriginCheck;

    // Act
    const loaded = await loadBundle(bundleOf(six, six.home, check.fn), {
      AWS_REGION: 'us-east-1',
      ORIGIN_SECRET_ID: 'GlobalIot/edge-origin-secret',
      ORIGIN_SECRET_REGION: 'us-east-1',
    });

    // Assess
    expect(loaded).toBe('function');
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
        IOT_DATA_ENDPOINTS: JSON.stringify(deployedEndpoints(defaults)),
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
