import * as z from 'zod';
import { InvalidInput } from './errors.js';
import { ticketClaimsSchema } from './ticket.js';

/**
 * The contract between the provisioning template, the device and the pre-provisioning hook,
 * defined once: template parameter names, the hook's event and answer (AWS IoT developer guide,
 * "Pre-provisioning hooks"). The confirmation's event is core/confirmation.ts's.
 */

/** The one payload version of the pre-provisioning hook's event that AWS IoT defines. */
export const HOOK_PAYLOAD_VERSION = '2020-04-01';

/** Parameter the device sends in RegisterThing: the thing name it was enrolled under. */
export const THING_NAME_PARAM = 'ThingName';
/** Parameter the device sends in RegisterThing: the ticket the bootstrap issued it. */
export const TICKET_PARAM = 'Ticket';
/** Override the hook adds on allow: the region the device is provisioned in. */
export const REGION_PARAM = 'Region';
/** Override the hook adds on allow: when the bootstrap assigned the region (ISO 8601, UTC). */
export const ASSIGNED_AT_PARAM = 'AssignedAt';

/** A region code in the form tickets carry, so that the two compare as plain strings. */
const regionCodeSchema = ticketClaimsSchema.shape.rgn;

/**
 * `arn:<partition>:iot:<region>:<account>:provisioningtemplate/<name>`. The account part is not
 * held to 12 digits: AWS's own documented hook example uses a 10-digit one, and the hook never
 * decides on the account.
 */
const TEMPLATE_ARN = /^arn:(aws(?:-[a-z]+)*):iot:([^:]+):(\d{1,12}):provisioningtemplate\/([0-9A-Za-z_-]{1,36})$/;

export class InvalidTemplateArn extends InvalidInput {
  override name = 'InvalidTemplateArn';
}

export interface TemplateArnParts {
  partition: string;
  region: string;
  accountId: string;
  templateName: string;
}

function matchTemplateArn(arn: string): TemplateArnParts | undefined {
  const [, partition, region, accountId, templateName] = TEMPLATE_ARN.exec(arn) ?? [];
  if (!partition || !region || !accountId || !templateName) return undefined;
  if (!regionCodeSchema.safeParse(region).success) return undefined;
  return { partition, region, accountId, templateName };
}

export function parseTemplateArn(arn: string): TemplateArnParts {
  const parts = matchTemplateArn(arn);
  if (!parts) throw new InvalidTemplateArn('not a provisioning template ARN');
  return parts;
}

/** The region a hook runs for, read from the template that called it. */
export function regionFromTemplateArn(arn: string): string {
  return parseTemplateArn(arn).region;
}

export function provisioningTemplateArn(parts: { region: string; accountId: string; templateName: string; partition?: string }): string {
  const arn = `arn:${parts.partition ?? 'aws'}:iot:${parts.region}:${parts.accountId}:provisioningtemplate/${parts.templateName}`;
  parseTemplateArn(arn);
  return arn;
}

/** AWS IoT certificate ids: the SHA-256 fingerprint of the certificate, 64 hex digits. */
export const certificateIdSchema = z.string().regex(/^[0-9a-fA-F]{64}$/, 'not a certificate id');

/**
 * What AWS IoT sends the hook on RegisterThing. Unknown fields are dropped rather than refused:
 * AWS may add fields, and the hook only decides on the ones below.
 */
export const hookEventSchema = z.object({
  claimCertificateId: z.string().min(1).max(128),
  certificateId: certificateIdSchema,
  certificatePem: z.string().min(1).max(65_536),
  templateArn: z.string().refine((arn) => matchTemplateArn(arn) !== undefined, 'not a provisioning template ARN'),
  // AWS IoT client ids are at most 128 bytes.
  clientId: z.string().min(1).max(128),
  parameters: z.record(z.string(), z.string()),
});
export type HookEvent = z.infer<typeof hookEventSchema>;

/**
 * The hook's answer. AWS accepts `parameterOverrides` absent; this hook always sends it (empty
 * on deny) so that every answer has one shape. Override values must be strings.
 */
export const hookResponseSchema = z.object({
  allowProvisioning: z.boolean(),
  parameterOverrides: z.record(z.string(), z.string()),
});
export type HookResponse = z.infer<typeof hookResponseSchema>;
