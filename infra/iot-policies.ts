/**
 * IoT policy documents the regional stacks deploy, as plain functions so tests can read them
 * without a synth. ARNs are built for the commercial partition: the region catalogue
 * (core/regions.ts) holds commercial regions only.
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

/**
 * What the shared claim certificate may do: connect, and use the fleet-provisioning topics of
 * this region's template, nothing else. Anyone holding the claim certificate can do this much;
 * the pre-provisioning hook is what decides who gets a device certificate.
 */
export function claimPolicyDocument(where: RegionAccount, templateName: string): PolicyDocument {
  const topics = fleetProvisioningTopics(templateName);
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: iotArn(where, 'client/*') },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => iotArn(where, `topic/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => iotArn(where, `topicfilter/${t}`)) },
    ],
  };
}

/** The policy variable IoT replaces with the name of the thing the connecting certificate is attached to. */
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

/**
 * What a provisioned device may do: connect only as its own thing, with a certificate attached to
 * that thing, and use only its own topics (its shadow and jobs under `$aws/things/<thing>/`, its
 * application topics under `things/<thing>/`). One device can never publish as another.
 */
export function devicePolicyDocument(where: RegionAccount): PolicyDocument {
  const own = [`$aws/things/${THING_NAME_VARIABLE}/*`, `things/${THING_NAME_VARIABLE}/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: iotArn(where, `client/${THING_NAME_VARIABLE}`),
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': true } },
      },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: own.map((t) => iotArn(where, `topic/${t}`)) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: own.map((t) => iotArn(where, `topicfilter/${t}`)) },
    ],
  };
}
