import { RemovalPolicy } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { devicePolicyDocument, type RegionAccount } from '../iot-policies.js';

export interface DevicePolicyProps {
  /** The account and region the policy's ARNs name. */
  readonly where: RegionAccount;
  /** The name templates attach the policy by (`"PolicyName"` in the template body). */
  readonly policyName: string;
  /** The rule devices confirm their provisioning through (Basic Ingest): they may publish to it. */
  readonly confirmationRuleName: string;
  /** The template devices rotate their certificate through: they may use its fleet-provisioning topics. */
  readonly rotationTemplateName: string;
}

/**
 * The IoT policy every provisioned device gets: connect only as its own thing, with a certificate
 * attached to that thing, use only its own topics, publish its confirmation, and rotate its
 * certificate through the rotation template (core/iot-policies.ts).
 */
export class DevicePolicy extends Construct {
  readonly policy: iot.CfnPolicy;

  constructor(scope: Construct, id: string, props: DevicePolicyProps) {
    super(scope, id);
    this.policy = new iot.CfnPolicy(this, 'DevicePolicy', {
      policyName: props.policyName,
      policyDocument: devicePolicyDocument(props.where, { confirmationRuleName: props.confirmationRuleName, rotationTemplateName: props.rotationTemplateName }),
    });
    // Every device certificate of the region carries this policy: AWS IoT refuses to delete a
    // policy attached to a certificate, so deleting the stack (removing the region) would fail,
    // and the devices already there keep working only while it exists.
    this.policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
