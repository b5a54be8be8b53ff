import { confirmationTopic } from './confirmation.js';

/**
 * The AWS IoT policy documents of a deployment, as plain functions: the regional stacks deploy
 * them (infra/) and the local cloud enforces the very same documents, so a test against the local
 * cloud tests the policy AWS gets. ARNs are built for the commercial partition: the region
 * catalogue (core/regions.ts) holds commercial regions only.
 */

export interface RegionAccount {
  readonly region: string;
  readonly account: string;
}

export function iotArn(where: RegionAccount, resource: string): string {
  return `arn:aws:iot:${where.region}:${where.account}:${resource}`;
}

/**
 * The MQTT topics of fleet provisioning that a claim certificate may use, request and answer
 * alike. `create/*` does not match `create-from-csr/...`, hence both.
 */
export function fleetProvisioningTopics(templateName: string): string[] {
  return ['$aws/certificates/create/*', '$aws/certificates/create-from-csr/*', `$aws/provisioning-templates/${templateName}/provision/*`];
}

export interface PolicyStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | boolean>>;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: PolicyStatement[];
}

export interface ClaimPolicyOptions {
  readonly templateName: string;
  /** Claim sessions connect as `<prefix><thing>` (core/claim-client-id.ts). */
  readonly clientIdPrefix: string;
  /**
   * Also allow the bare thing name as client id, for firmware from before the prefix. This keeps
   * the hole open that the prefix closes: anyone with the claim key can take a device's client id.
   */
  readonly legacyClientIds: boolean;
}

/**
 * What the shared claim certificate may do: connect under the reserved client-id prefix (never
 * as a device), and use the fleet-provisioning topics of this region's template, nothing else.
 * Anyone holding the claim certificate can do this much; the pre-provisioning hook is what
 * decides who gets a device certificate.
 */
export function claimPolicyDocument(where: RegionAccount, options: ClaimPolicyOptions): PolicyDocument {
  const topics = fleetProvisioningTopics(options.templateName);
  const clients = options.legacyClientIds ? 'client/*' : `client/${options.clientIdPrefix}*`;
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: iotArn(where, clients) },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => iotArn(where, `topic/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => iotArn(where, `topicfilter/${t}`)) },
    ],
  };
}

/** The policy variable IoT replaces with the name of the thing the connecting certificate is attached to. */
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

export interface DevicePolicyOptions {
  /** The rule a device confirms its provisioning through (Basic Ingest, core/confirmation.ts). */
  readonly confirmationRuleName: string;
  /** The template a device rotates its certificate through (`lifecycle.rotationTemplateName`). */
  readonly rotationTemplateName: string;
}

/**
 * What a provisioned device may do: connect only as its own thing, with a certificate attached to
 * that thing, use only its own topics (its shadow and jobs under `$aws/things/<thing>/`, its
 * application topics under `things/<thing>/`), and publish its one provisioning confirmation to
 * the confirmation rule (Basic Ingest), and use the fleet-provisioning topics of the rotation
 * template (a new certificate over its current one; the claim policy does not list that template).
 * One device can never publish as another; the rotation's pre-provisioning hook holds a rotation to
 * the thing the certificate is the registry's certificate of.
 */
export function devicePolicyDocument(where: RegionAccount, options: DevicePolicyOptions): PolicyDocument {
  const own = [`$aws/things/${THING_NAME_VARIABLE}/*`, `things/${THING_NAME_VARIABLE}/*`];
  const rotation = fleetProvisioningTopics(options.rotationTemplateName);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: iotArn(where, `client/${THING_NAME_VARIABLE}`),
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': true } },
      },
      // RetainPublish: a device may keep its last state retained on its own topics (never on $aws/ ones: AWS refuses that).
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'], Resource: own.map((t) => iotArn(where, `topic/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: own.map((t) => iotArn(where, `topicfilter/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Publish', Resource: iotArn(where, `topic/${confirmationTopic(options.confirmationRuleName)}`) },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: rotation.map((t) => iotArn(where, `topic/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: rotation.map((t) => iotArn(where, `topicfilter/${t}`)) },
    ],
  };
}
