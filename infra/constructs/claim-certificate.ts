import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { claimPolicyDocument, type RegionAccount } from '../iot-policies.js';

export interface ClaimCertificateProps {
  /** The account and region the policy's ARNs name. */
  readonly where: RegionAccount;
  /** The IoT policy attached to the claim certificate. */
  readonly policyName: string;
  /** The fleet-provisioning template whose topics the claim certificate may use. */
  readonly templateName: string;
  /** Claim sessions connect only as `<prefix><thing>` (the deployment's claimClientIdPrefix). */
  readonly clientIdPrefix: string;
  /** The deployment's legacyClaimClientIds (every client id allowed), for firmware from before the prefix. */
  readonly legacyClientIds: boolean;
  /**
   * PEM of the fleet's shared claim certificate, registered in this region without a CA.
   * @default - none: the policy is created, the certificate is registered by hand (infra/README.md)
   */
  readonly certificatePem?: string;
}

/**
 * What the shared claim certificate may do in this region, and, when its PEM is configured, its
 * registration (ACTIVE, without a CA) with that policy attached.
 */
export class ClaimCertificate extends Construct {
  readonly policy: iot.CfnPolicy;
  /** Absent when the certificate is registered by hand. */
  readonly certificate?: iot.CfnCertificate;

  constructor(scope: Construct, id: string, props: ClaimCertificateProps) {
    super(scope, id);
    this.policy = new iot.CfnPolicy(this, 'ClaimPolicy', {
      policyName: props.policyName,
      policyDocument: claimPolicyDocument(props.where, {
        templateName: props.templateName,
        clientIdPrefix: props.clientIdPrefix,
        legacyClientIds: props.legacyClientIds,
      }),
    });
    // A claim certificate registered by hand keeps this policy attached, and AWS IoT refuses to
    // delete an attached policy: removing the region must not fail on it (infra/README.md).
    this.policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (props.certificatePem === undefined) return;
    // SNI_ONLY with no CA is CloudFormation's form of RegisterCertificateWithoutCA.
    this.certificate = new iot.CfnCertificate(this, 'ClaimCertificate', {
      certificateMode: 'SNI_ONLY',
      certificatePem: props.certificatePem,
      status: 'ACTIVE',
    });
    new iot.CfnPolicyPrincipalAttachment(this, 'ClaimCertificatePolicy', {
      policyName: this.policy.ref,
      principal: this.certificate.attrArn,
    });
    new CfnOutput(this, 'ClaimCertificateId', { value: this.certificate.ref });
  }
}
