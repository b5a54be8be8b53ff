import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IDependable } from 'constructs';
import { iotArn, type RegionAccount } from '../iot-policies.js';
import { ProvisioningFunction } from './provisioning-function.js';
import { HOOK_PAYLOAD_VERSION } from '@global-iot/core/provisioning-params.js';

/** The hook's event and answer format; the only version AWS IoT defines. */

/** AWS IoT waits this long for the hook; the function may not run longer. */
export const HOOK_TIMEOUT = Duration.seconds(5);

export interface ProvisioningTemplateProps {
  /** The account and region of the template, its role's scope and the hook's permission. */
  readonly where: RegionAccount;
  /** The template's name, as devices publish to it (1-36 of `[0-9A-Za-z_-]`). */
  readonly templateName: string;
  /** The template body (JSON), checked at synth by infra/templates.ts. */
  readonly templateBody: string;
  /** The hook's TypeScript module (exports `handler`). */
  readonly hookEntry: string;
  /** The hook's settings (pre-provisioning-hook/settings.ts). */
  readonly hookEnvironment: Readonly<Record<string, string>>;
  /** What the hook may do in the registry table. */
  readonly registryAccess: iam.PolicyStatement;
  /**
   * Memory of the hook in MB: more memory is more CPU, which shortens its cold start.
   * @default 512
   */
  readonly hookMemorySize?: number;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What RegisterThing needs in place before the template is created (the device policy it attaches by name).
   * @default - none
   */
  readonly requires?: readonly IDependable[];
  /**
   * The rotation template (README, "A rotation"): created beside the product template, with the
   * same role and the same hook, whose rotation rules apply to it by name.
   * @default - none
   */
  readonly rotation?: { readonly templateName: string; readonly templateBody: string };
}

/**
 * AWS's managed policy for the role a provisioning template runs under. AWS maintains its action
 * list as fleet provisioning grows; a hand-picked subset that misses one action fails every
 * RegisterThing with AccessDenied, which the device reports exactly like a hook denial.
 */
export const PROVISIONING_MANAGED_POLICY = 'service-role/AWSIoTThingsRegistration';

/**
 * A fleet-provisioning template with what it cannot work without: its pre-provisioning hook
 * function, the hook's resource policy for AWS IoT (this account), and the role AWS IoT assumes
 * to carry the template out.
 */
export class ProvisioningTemplate extends Construct {
  readonly template: iot.CfnProvisioningTemplate;
  readonly hookFunction: ProvisioningFunction;
  readonly provisioningRole: iam.Role;
  readonly templateArn: string;
  readonly rotationTemplate: iot.CfnProvisioningTemplate | undefined;

  constructor(scope: Construct, id: string, props: ProvisioningTemplateProps) {
    super(scope, id);
    this.templateArn = iotArn(props.where, `provisioningtemplate/${props.templateName}`);
    this.hookFunction = this.hook(props);
    this.provisioningRole = this.role(props);
    this.template = new iot.CfnProvisioningTemplate(this, 'ProvisioningTemplate', {
      templateName: props.templateName,
      description: `Global fleet provisioning into ${props.where.region}; devices need a ticket from the bootstrap API`,
      templateBody: props.templateBody,
      templateType: 'FLEET_PROVISIONING',
      enabled: true,
      provisioningRoleArn: this.provisioningRole.roleArn,
      preProvisioningHook: { payloadVersion: HOOK_PAYLOAD_VERSION, targetArn: this.hookFunction.functionArn },
    });
    // IoT checks that it may invoke the hook when the template is created, and RegisterThing
    // attaches the device policy by name.
    this.template.node.addDependency(this.hookFunction.permissionsNode.findChild('InvokeByIotProvisioning'), ...(props.requires ?? []));
    this.rotationTemplate = props.rotation === undefined ? undefined : this.rotationTemplateOf(props, props.rotation);
  }

  /** The rotation template: devices only (the claim policy does not list it), same role and hook. */
  private rotationTemplateOf(props: ProvisioningTemplateProps, rotation: NonNullable<ProvisioningTemplateProps['rotation']>): iot.CfnProvisioningTemplate {
    const template = new iot.CfnProvisioningTemplate(this, 'RotationTemplate', {
      templateName: rotation.templateName,
      description: `Certificate rotation in ${props.where.region}: a device's new certificate, over its current one, for the same thing`,
      templateBody: rotation.templateBody,
      templateType: 'FLEET_PROVISIONING',
      enabled: true,
      provisioningRoleArn: this.provisioningRole.roleArn,
      preProvisioningHook: { payloadVersion: HOOK_PAYLOAD_VERSION, targetArn: this.hookFunction.functionArn },
    });
    template.node.addDependency(this.hookFunction.permissionsNode.findChild('InvokeByIotProvisioning'), ...(props.requires ?? []));
    return template;
  }

  private hook(props: ProvisioningTemplateProps): ProvisioningFunction {
    const fn = new ProvisioningFunction(this, 'PreProvisioningHook', {
      entry: props.hookEntry,
      description: `Pre-provisioning hook of ${props.templateName}: admits a RegisterThing only with a live ticket for this region`,
      memorySize: props.hookMemorySize ?? 512,
      timeout: HOOK_TIMEOUT,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      environment: props.hookEnvironment,
    });
    fn.addToRolePolicy(props.registryAccess);
    // AWS's pre-provisioning hook page asks for the source account or source ARN; it documents no
    // SourceArn value for hook invocations, and a condition on a key IoT does not send denies
    // every invocation (every RegisterThing), so the permission names the account only.
    fn.addPermission('InvokeByIotProvisioning', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: props.where.account,
    });
    return fn;
  }

  private role(props: ProvisioningTemplateProps): iam.Role {
    const role = new iam.Role(this, 'ProvisioningRole', {
      description: `AWS IoT assumes this role to carry out the ${props.templateName} template`,
      // The trust conditions in the form AWS IoT's confused-deputy page documents for its roles.
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': props.where.account },
          ArnLike: { 'aws:SourceArn': iotArn(props.where, '*') },
        },
      }),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(PROVISIONING_MANAGED_POLICY)],
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${PROVISIONING_MANAGED_POLICY}]`,
      reason:
        'AWS documents this managed policy for the provisioning role and keeps its actions current; only AWS IoT acting for this account in this region may assume the role, and it only carries out templates this app deploys (infra/README.md, "IAM")',
    });
    return role;
  }
}
