import { type CfnElement, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { CONFIRM_SERVICE_NAME, HOOK_SERVICE_NAME } from '@global-iot/pre-provisioning-hook/settings.js';
import type { InfraConfig } from '../config.js';
import { AlarmTopic } from '../constructs/alarm-topic.js';
import { ClaimCertificate } from '../constructs/claim-certificate.js';
import { ConfirmationFailures, failureQueueName } from '../constructs/confirmation-failures.js';
import { DevicePolicy } from '../constructs/device-policy.js';
import { IotDataDomain } from '../constructs/iot-data-domain.js';
import { lifecycleAccess, ProvisioningConfirmation } from '../constructs/provisioning-confirmation.js';
import type { ProvisioningFunction } from '../constructs/provisioning-function.js';
import { ProvisioningTemplate } from '../constructs/provisioning-template.js';
import { RegionalAlarms } from '../constructs/regional-alarms.js';
import type { HandlerEntries } from '../handlers.js';
import type { RegionAccount } from '../iot-policies.js';
import { logicalIdFromPath } from '../logical-ids.js';

export { HOOK_TIMEOUT } from '../constructs/provisioning-template.js';

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
 * One IoT region, composed of four constructs: the device policy, the fleet-provisioning template
 * with its hook and role, the claim certificate with its policy, and the confirmation rule;
 * then, attached from outside, the operations (alarm topic, the confirmation's failure queue, the
 * region's alarms) and, when configured, the region's configurable endpoint.
 * The constructs group resources in the tree only: their logical ids are those the resources had
 * when the stack built them itself (see allocateLogicalId), so an existing deployment updates in
 * place instead of replacing them.
 */
export class RegionalStack extends Stack {
  readonly hookFunction: ProvisioningFunction;
  readonly confirmFunction: ProvisioningFunction;
  readonly template: iot.CfnProvisioningTemplate;
  /** The rotation template (`lifecycle.rotationTemplateName`), beside the product template. */
  readonly rotationTemplate: iot.CfnProvisioningTemplate | undefined;
  readonly provisioningRole: iam.Role;
  readonly claimPolicy: iot.CfnPolicy;
  readonly devicePolicy: iot.CfnPolicy;
  readonly templateArn: string;
  /** The confirmation's on-failure destination (SQS) and its asynchronous-invocation settings. */
  readonly confirmationFailures: ConfirmationFailures;
  readonly alarms: RegionalAlarms;
  readonly alarmTopic: AlarmTopic;
  /** With infra.iotDomains for this region: the configurable endpoint the bootstrap answers with. */
  readonly dataDomain: IotDataDomain | undefined;
  /** The constructs that group this stack's resources; their ids stay out of logical ids. */
  private readonly groups = new Set<IConstruct>();

  constructor(scope: Construct, id: string, props: RegionalStackProps) {
    super(scope, id, { ...props, env: { account: props.config.account, region: props.region } });
    const { config } = props;
    const { deployment, settings, template } = config;
    const where: RegionAccount = { region: props.region, account: config.account };
    const logRetention = settings.logRetentionDays as logs.RetentionDays;
    const registry = { REGISTRY_TABLE: deployment.tableName, REGISTRY_REGION: deployment.homeRegion };
    const registryAccess = new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resources: [registryTableArn(config)] });
    const telemetry = (service: string) => ({ POWERTOOLS_SERVICE_NAME: service, POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace });

    const device = this.group(
      new DevicePolicy(this, 'Device', {
        where,
        policyName: settings.devicePolicyName,
        confirmationRuleName: deployment.confirmationRuleName,
        rotationTemplateName: deployment.lifecycle.rotationTemplateName,
      }),
    );
    const provisioning = this.group(
      new ProvisioningTemplate(this, 'Template', {
        where,
        templateName: template.name,
        templateBody: template.body,
        hookEntry: props.entries.hook,
        hookEnvironment: {
          ...registry,
          TICKET_PUBLIC_KEYS: JSON.stringify(config.ticketPublicKeys),
          MAX_PROVISION_ATTEMPTS: String(deployment.maxProvisionAttempts),
          CLAIM_CLIENT_ID_PREFIX: deployment.claimClientIdPrefix,
          LEGACY_CLAIM_CLIENT_IDS: String(deployment.legacyClaimClientIds),
          ROTATION_TEMPLATE_NAME: deployment.lifecycle.rotationTemplateName,
          ...telemetry(HOOK_SERVICE_NAME),
        },
        registryAccess,
        logRetention,
        requires: [device.policy],
        rotation: { templateName: config.rotationTemplate.name, templateBody: config.rotationTemplate.body },
      }),
    );
    const claim = this.group(
      new ClaimCertificate(this, 'Claim', {
        where,
        policyName: settings.claimPolicyName,
        templateName: template.name,
        clientIdPrefix: deployment.claimClientIdPrefix,
        legacyClientIds: deployment.legacyClaimClientIds,
        ...(config.claimCertificatePem === undefined ? {} : { certificatePem: config.claimCertificatePem }),
      }),
    );
    const confirmation = this.group(
      new ProvisioningConfirmation(this, 'Confirmation', {
        where,
        ruleName: deployment.confirmationRuleName,
        confirmEntry: props.entries.confirm,
        environment: {
          ...registry,
          REPROVISION_POLICY: deployment.lifecycle.reprovisionPolicy,
          HISTORY_LIMIT: String(deployment.lifecycle.historyLimit),
          ...telemetry(CONFIRM_SERVICE_NAME),
        },
        registryAccess,
        lifecycleAccess: lifecycleAccess(config.account, deployment.regions, settings.devicePolicyName),
        // A move's completion copies from and retires in another region, with DeleteThing's retries.
        timeout: Duration.seconds(60),
        logRetention,
      }),
    );

    this.devicePolicy = device.policy;
    this.hookFunction = provisioning.hookFunction;
    this.provisioningRole = provisioning.provisioningRole;
    this.template = provisioning.template;
    this.rotationTemplate = provisioning.rotationTemplate;
    this.templateArn = provisioning.templateArn;
    this.claimPolicy = claim.policy;
    this.confirmFunction = confirmation.confirmFunction;

    new CfnOutput(this, 'TemplateName', { value: template.name });
    new CfnOutput(this, 'ClaimPolicyName', { value: this.claimPolicy.ref });

    // Operations: attached to the functions from outside, so the constructs above stay as they are.
    const operations = this.operations(config, props.region);
    this.alarmTopic = operations.topic;
    this.confirmationFailures = operations.failures;
    this.alarms = operations.alarms;
    const dataDomain = settings.iotDomains[props.region];
    this.dataDomain =
      dataDomain === undefined ? undefined : new IotDataDomain(this, 'DataDomain', { configurationName: `${settings.stackPrefix}-data`, domain: dataDomain });
  }

  /** The region's alarm topic, the confirmation's failure queue and the region's alarms. */
  private operations(config: InfraConfig, region: string): { topic: AlarmTopic; failures: ConfirmationFailures; alarms: RegionalAlarms } {
    const { settings } = config;
    const topic = new AlarmTopic(this, 'AlarmTopic', {
      displayName: `${settings.stackPrefix} ${region} alarms`,
      ...(settings.alarmEmail === undefined ? {} : { email: settings.alarmEmail }),
    });
    const failures = new ConfirmationFailures(this, 'ConfirmationFailures', {
      fn: this.confirmFunction,
      queueName: failureQueueName(settings.stackPrefix),
    });
    const alarms = new RegionalAlarms(this, 'Alarms', {
      namePrefix: `${settings.stackPrefix}-${region}`,
      metricsNamespace: settings.metricsNamespace,
      thresholds: settings.alarms,
      hookFunction: this.hookFunction,
      confirmFunction: this.confirmFunction,
      failureQueue: failures.queue,
      topic,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topic.topicArn, description: 'Alarms of this region notify this SNS topic' });
    return { topic, failures, alarms };
  }

  private group<T extends IConstruct>(construct: T): T {
    this.groups.add(construct);
    return construct;
  }

  /** CDK's ids, computed from the path without the grouping constructs' ids. */
  protected override allocateLogicalId(element: CfnElement): string {
    const scopes = element.node.scopes;
    return logicalIdFromPath(
      scopes
        .slice(scopes.indexOf(this) + 1)
        .filter((scope) => !this.groups.has(scope))
        .map((scope) => scope.node.id),
    );
  }
}
