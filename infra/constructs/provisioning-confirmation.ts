import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONFIRMATION_RULE_SQL, CONFIRMATION_RULE_SQL_VERSION } from '@global-iot/core/confirmation.js';
import { iotArn, type RegionAccount } from '../iot-policies.js';
import { ProvisioningFunction } from './provisioning-function.js';

export interface ProvisioningConfirmationProps {
  /** The account and region of the rule and of the function's permission. */
  readonly where: RegionAccount;
  /**
   * The rule's name: devices publish their confirmation to `$aws/rules/<name>/...` (Basic
   * Ingest), and the device policy allows exactly that topic (the deployment's confirmationRuleName).
   */
  readonly ruleName: string;
  /** The confirmation's TypeScript module (exports `handler`). */
  readonly confirmEntry: string;
  /** The confirmation's settings (pre-provisioning-hook/settings.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /** What the confirmation may do in the registry table. */
  readonly registryAccess: iam.PolicyStatement;
  /**
   * What completing a move or a rotation needs in AWS IoT, in every region of the deployment
   * (the region a device left is another one): see `lifecycleAccess`.
   * @default - none
   */
  readonly lifecycleAccess?: readonly iam.PolicyStatement[];
  /**
   * The function's limit; it runs asynchronously, with no caller waiting.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the function's log and of the rule's error log.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Confirms provisioning when a device first connects with its new certificate: the device
 * publishes once to the rule's Basic Ingest topic, and the rule (SQL in core/confirmation.ts)
 * invokes the confirmation function with the connection's `clientid()` and `principal()`, and
 * logs to its own log group the events it could not deliver. Nothing else invokes it: a device
 * that reconnects publishes nothing, so it costs no invocation and no write. (The file and class
 * keep their name from the presence rule this replaced, so that the stacks' logical ids of the
 * function and the error log stay.)
 */
export class ProvisioningConfirmation extends Construct {
  readonly confirmFunction: ProvisioningFunction;
  readonly rule: iot.CfnTopicRule;

  constructor(scope: Construct, id: string, props: ProvisioningConfirmationProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.confirmFunction = new ProvisioningFunction(this, 'ProvisioningConfirmation', {
      entry: props.confirmEntry,
      description: 'Marks a device provisioned when it first connects with its new certificate',
      timeout: props.timeout ?? Duration.seconds(10),
      logRetention: retention,
      environment: props.environment,
      ...(props.lifecycleAccess === undefined
        ? {}
        : {
            unscopedActions: {
              actions: ['iot:DescribeEndpoint'],
              reason: "completing a move or a rotation reaches each region's shadows at the account's iot:Data-ATS endpoint; DescribeEndpoint supports no resource-level permissions",
            },
          }),
    });
    this.confirmFunction.addToRolePolicy(props.registryAccess);
    for (const statement of props.lifecycleAccess ?? []) this.confirmFunction.addToRolePolicy(statement);
    this.acknowledgeLifecycleAccess(props.lifecycleAccess ?? []);
    this.rule = new iot.CfnTopicRule(this, 'ConfirmationRule', {
      ruleName: props.ruleName,
      topicRulePayload: {
        description: "Confirms provisioning: a device's one Basic Ingest publish with its new certificate",
        sql: CONFIRMATION_RULE_SQL,
        awsIotSqlVersion: CONFIRMATION_RULE_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: this.confirmFunction.functionArn } }],
        errorAction: this.errorAction(props.where, retention),
      },
    });
    this.confirmFunction.addPermission('InvokeByConfirmationRule', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: props.where.account,
      sourceArn: this.rule.attrArn,
    });
  }

  /** The `cert/*` and `thing/*` resources of lifecycleAccess, each acknowledged with why it cannot be narrower. */
  private acknowledgeLifecycleAccess(statements: readonly iam.PolicyStatement[]): void {
    const role = this.confirmFunction.role;
    if (role === undefined) return;
    const wildcards = new Set(statements.flatMap((statement) => statement.resources).filter((resource) => resource.endsWith('/*')));
    for (const resource of wildcards) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          "Completing a move or a rotation revokes the device's old certificates and deletes its old thing and shadow; devices name their things and certificates at run time, so the resource is every thing or certificate of this account in that region, and only the IoT actions the completion calls are granted (infra/README.md, IAM)",
      });
    }
  }

  /** Where the rule puts what its action could not deliver: a log group, through a role of its own. */
  private errorAction(where: RegionAccount, retention: logs.RetentionDays): iot.CfnTopicRule.ActionProperty {
    const ruleErrors = new logs.LogGroup(this, 'PresenceRuleErrors', { retention });
    const ruleErrorRole = new iam.Role(this, 'PresenceRuleErrorRole', {
      description: 'Lets the confirmation rule log the events its action could not deliver',
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': where.account },
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
    return { cloudwatchLogs: { logGroupName: ruleErrors.logGroupName, roleArn: ruleErrorRole.roleArn } };
  }
}

/**
 * What the confirmation does in AWS IoT when it completes a move or a rotation
 * (core/lifecycle/complete.ts), in each of `regions`: read and revoke certificates and detach the
 * device policy from them (`cert/*`, the device policy), read, update, detach and delete things and
 * their classic shadows (`thing/*`). Things and certificates are named by devices at run time, so
 * the resources are every thing and certificate of the account in those regions; nothing else.
 */
export function lifecycleAccess(account: string, regions: readonly string[], devicePolicyName: string): iam.PolicyStatement[] {
  const arns = (resource: string): string[] => regions.map((region) => iotArn({ region, account }, resource));
  return [
    new iam.PolicyStatement({ actions: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListAttachedPolicies'], resources: arns('cert/*') }),
    new iam.PolicyStatement({ actions: ['iot:DetachPolicy'], resources: [...arns('cert/*'), ...arns(`policy/${devicePolicyName}`)] }),
    new iam.PolicyStatement({
      actions: [
        'iot:ListThingPrincipals',
        'iot:DetachThingPrincipal',
        'iot:DescribeThing',
        'iot:UpdateThing',
        'iot:DeleteThing',
        'iot:GetThingShadow',
        'iot:UpdateThingShadow',
        'iot:DeleteThingShadow',
      ],
      resources: arns('thing/*'),
    }),
  ];
}
