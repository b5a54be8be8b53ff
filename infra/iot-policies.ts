/**
 * IoT policy documents and IAM actions the regional stacks deploy, as plain functions so tests can
 * read them without a synth. The IoT policy documents live in core (the local cloud enforces the
 * same ones); the provisioning role's grants are infra's own.
 */
import { iotArn, type RegionAccount } from '@global-iot/core/iot-policies.js';

export {
  claimPolicyDocument,
  type ClaimPolicyOptions,
  devicePolicyDocument,
  type DevicePolicyOptions,
  fleetProvisioningTopics,
  iotArn,
  type PolicyDocument,
  type PolicyStatement,
  type RegionAccount,
  THING_NAME_VARIABLE,
} from '@global-iot/core/iot-policies.js';

export interface ProvisioningRoleNeeds {
  readonly devicePolicyName: string;
  readonly thingGroups: boolean;
  readonly thingType: boolean;
  readonly billingGroup: boolean;
}

export interface IamGrant {
  readonly actions: string[];
  readonly resources: string[];
}

/**
 * What AWS IoT needs, acting as the provisioning role, to carry out a fleet template: the
 * registration subset of the managed AWSIoTThingsRegistration policy, without creating policies or
 * certificates (templates attach the stack's device policy by name), scoped to this account and
 * region and to the resource types the template uses.
 */
export function provisioningRoleGrants(where: RegionAccount, needs: ProvisioningRoleNeeds): IamGrant[] {
  const grants: IamGrant[] = [
    {
      actions: [
        'iot:CreateThing',
        'iot:DescribeThing',
        'iot:UpdateThing',
        'iot:AttachThingPrincipal',
        'iot:DetachThingPrincipal',
        'iot:ListThingPrincipals',
        'iot:DescribeCertificate',
        'iot:UpdateCertificate',
        'iot:ListAttachedPolicies',
        'iot:ListPrincipalThings',
      ],
      resources: [iotArn(where, 'thing/*'), iotArn(where, 'cert/*')],
    },
    {
      actions: ['iot:AttachPolicy', 'iot:AttachPrincipalPolicy', 'iot:GetPolicy', 'iot:ListPolicyPrincipals', 'iot:ListTargetsForPolicy'],
      resources: [iotArn(where, `policy/${needs.devicePolicyName}`), iotArn(where, 'cert/*')],
    },
  ];
  if (needs.thingGroups) {
    grants.push({
      actions: [
        'iot:AddThingToThingGroup',
        'iot:RemoveThingFromThingGroup',
        'iot:UpdateThingGroupsForThing',
        'iot:ListThingGroupsForThing',
        'iot:DescribeThingGroup',
      ],
      resources: [iotArn(where, 'thing/*'), iotArn(where, 'thinggroup/*')],
    });
  }
  if (needs.thingType) grants.push({ actions: ['iot:DescribeThingType'], resources: [iotArn(where, 'thingtype/*')] });
  if (needs.billingGroup) {
    grants.push({
      actions: ['iot:AddThingToBillingGroup', 'iot:RemoveThingFromBillingGroup', 'iot:DescribeBillingGroup'],
      resources: [iotArn(where, 'thing/*'), iotArn(where, 'billinggroup/*')],
    });
  }
  return grants;
}
