/**
 * The IoT policy documents the regional stacks deploy. They live in core, because the local cloud
 * enforces the same ones; the provisioning role carries AWS's managed registration policy
 * (infra/constructs/provisioning-template.ts), so infra has no grants of its own here.
 */
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
