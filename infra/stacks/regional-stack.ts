import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { CONFIRM_SERVICE_NAME, HOOK_SERVICE_NAME } from '@global-iot/pre-provisioning-hook/settings.js';
import type { InfraConfig } from '../config.js';
import { ProvisioningFunction } from '../constructs/provisioning-function.js';
import type { HandlerEntries } from '../handlers.js';
import { claimPolicyDocument, devicePolicyDocument, iotArn, provisioningRoleGrants, type RegionAccount } from '../iot-policies.js';

/** The hook's event and answer format; the only version AWS IoT defines. */
export const HOOK_PAYLOAD_VERSION = '2020-04-01';

/** AWS IoT waits this long for the hook; the function may not run longer. */
export const HOOK_TIMEOUT = Duration.seconds(5);

/** Presence events IoT publishes when any client connects in this region. */
export const PRESENCE_CONNECTED_SQL = "SELECT * FROM '$aws/events/presence/connected/+'";

export interface RegionalStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly entries: HandlerEntries;
  /** The AWS region of this stack; also its `env.region`. */
  readonly region: string;
}

/** The registry's ARN, computed: the table lives in the home region under a name fixed by config. */
export function registryTableArn(config: InfraConfig): string {
  return `arn:aws:dynamodb:${config.deployment.homeRegion}:${config.account}:table/${config.deployment.tableName}`;
}

/**
 * One IoT region: the fleet-provisioning template with its pre-provisioning hook, the role IoT
 * provisions with, the claim and device policies, the claim certificate's registration, and the
 * rule that confirms a device once it connects with its new certificate.
 */
export class RegionalStack extends Stack {
  readonly hookFunction: ProvisioningFunction;
  readonly confirmFunction: ProvisioningFunction;
  readonly template: iot.CfnProvisioningTemplate;
  readonly provisioningRole: iam.Role;
  readonly claimPolicy: iot.CfnPolicy;
  readonly devicePolicy: iot.CfnPolicy;
  readonly templateArn: string;

  constructor(scope: Construct, id: string, props: RegionalStackProps) {
    super(scope, id, { ...props, env: { account: props.config.account, region: props.region } });
    const { config } = props;
    const { deployment, settings, template } = config;
    const where: RegionAccount = { region: props.region, account: config.account };
    const retention = settings.logRetentionDays as logs.RetentionDays;
    const registry = {
      REGISTRY_TABLE: deployment.tableName,
      REGISTRY_REGION: deployment.homeRegion,
    };
    const registryAccess = new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [registryTableArn(config)],
    });
    this.templateArn = iotArn(where, `provisioningtemplate/${template.name}`);

    this.hookFunction = new ProvisioningFunction(this, 'PreProvisioningHook', {
      entry: props.entries.hook,
      description: `Pre-provisioning hook of ${template.name}: admits a RegisterThing only with a live ticket for this region`,
      memorySize: 512,
      timeout: HOOK_TIMEOUT,
      logRetention: retention,
      environment: {
        ...registry,
        TICKET_PUBLIC_KEYS: JSON.stringify(config.ticketPublicKeys),
        MAX_PROVISION_ATTEMPTS: String(deployment.maxProvisionAttempts),
        REQUIRE_CLIENT_ID_MATCH: String(deployment.requireClientIdMatch),
        POWERTOOLS_SERVICE_NAME: HOOK_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      },
    });
    this.hookFunction.addToRolePolicy(registryAccess);
    this.hookFunction.addPermission('InvokeByIotProvisioning', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: config.account,
      sourceArn: this.templateArn,
    });

    this.provisioningRole = new iam.Role(this, 'ProvisioningRole', {
      description: `AWS IoT assumes this role to carry out the ${template.name} template`,
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': config.account },
          ArnLike: { 'aws:SourceArn': iotArn(where, '*') },
        },
      }),
      inlinePolicies: {
        Registration: new iam.PolicyDocument({
          statements: provisioningRoleGrants(where, { devicePolicyName: settings.devicePolicyName, ...template.uses }).map(
            (grant) => new iam.PolicyStatement({ actions: grant.actions, resources: grant.resources }),
          ),
        }),
      },
    });
    const perDevice: Record<string, string> = {
      thing: 'things are created at provisioning time, one per device, so their names are not known at deploy',
      cert: 'device certificates are created at provisioning time, so their ids are not known at deploy',
      thinggroup: 'the template names thing groups per device through parameters',
      thingtype: 'the template names the thing type through a parameter',
      billinggroup: 'the template names the billing group through a parameter',
    };
    const wildcards = new Set(
      provisioningRoleGrants(where, { devicePolicyName: settings.devicePolicyName, ...template.uses }).flatMap((g) =>
        g.resources.filter((r) => r.includes('*')),
      ),
    );
    for (const resource of wildcards) {
      const type = /:(\w+)\/\*$/.exec(resource)?.[1] ?? '';
      Validations.of(this.provisioningRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason: `${perDevice[type] ?? 'created per device'}; the grant is limited to this account and region and to the registration actions of fleet provisioning`,
      });
    }

    this.devicePolicy = new iot.CfnPolicy(this, 'DevicePolicy', {
      policyName: settings.devicePolicyName,
      policyDocument: devicePolicyDocument(where),
    });
    this.claimPolicy = new iot.CfnPolicy(this, 'ClaimPolicy', {
      policyName: settings.claimPolicyName,
      policyDocument: claimPolicyDocument(where, template.name),
    });

    this.template = new iot.CfnProvisioningTemplate(this, 'ProvisioningTemplate', {
      templateName: template.name,
      description: `Global fleet provisioning into ${props.region}; devices need a ticket from the bootstrap API`,
      templateBody: template.body,
      templateType: 'FLEET_PROVISIONING',
      enabled: true,
      provisioningRoleArn: this.provisioningRole.roleArn,
      preProvisioningHook: { payloadVersion: HOOK_PAYLOAD_VERSION, targetArn: this.hookFunction.functionArn },
    });
    // IoT checks that it may invoke the hook when the template is created, and RegisterThing
    // attaches the device policy by name.
    this.template.node.addDependency(this.hookFunction.permissionsNode.findChild('InvokeByIotProvisioning'), this.devicePolicy);

    if (config.claimCertificatePem !== undefined) {
      // SNI_ONLY with no CA is CloudFormation's form of RegisterCertificateWithoutCA.
      const claimCertificate = new iot.CfnCertificate(this, 'ClaimCertificate', {
        certificateMode: 'SNI_ONLY',
        certificatePem: config.claimCertificatePem,
        status: 'ACTIVE',
      });
      new iot.CfnPolicyPrincipalAttachment(this, 'ClaimCertificatePolicy', {
        policyName: this.claimPolicy.ref,
        principal: claimCertificate.attrArn,
      });
      new CfnOutput(this, 'ClaimCertificateId', { value: claimCertificate.ref });
    }

    this.confirmFunction = new ProvisioningFunction(this, 'ProvisioningConfirmation', {
      entry: props.entries.confirm,
      description: 'Marks a device provisioned when it first connects with its new certificate',
      timeout: Duration.seconds(10),
      logRetention: retention,
      environment: { ...registry, POWERTOOLS_SERVICE_NAME: CONFIRM_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace },
    });
    this.confirmFunction.addToRolePolicy(registryAccess);

    const ruleErrors = new logs.LogGroup(this, 'PresenceRuleErrors', { retention });
    const ruleErrorRole = new iam.Role(this, 'PresenceRuleErrorRole', {
      description: 'Lets the presence rule log the events its action could not deliver',
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': config.account },
          ArnLike: { 'aws:SourceArn': iotArn(where, 'rule/*') },
        },
      }),
    });
    ruleErrorRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        resources: [ruleErrors.logGroupArn],
      }),
    );
    const presenceRule = new iot.CfnTopicRule(this, 'PresenceConnectedRule', {
      topicRulePayload: {
        description: 'Confirms provisioning when a device connects',
        sql: PRESENCE_CONNECTED_SQL,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: this.confirmFunction.functionArn } }],
        errorAction: { cloudwatchLogs: { logGroupName: ruleErrors.logGroupName, roleArn: ruleErrorRole.roleArn } },
      },
    });
    this.confirmFunction.addPermission('InvokeByPresenceRule', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: config.account,
      sourceArn: presenceRule.attrArn,
    });

    new CfnOutput(this, 'TemplateName', { value: template.name });
    new CfnOutput(this, 'ClaimPolicyName', { value: this.claimPolicy.ref });
  }
}
