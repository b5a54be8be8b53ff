import * as z from 'zod';
import { OVERRIDE_ACTIONS, RESOURCE_TYPES, type Json } from './types.js';

/**
 * Shape of a provisioning template body. Property values are left as JSON here: which intrinsic
 * may appear where, and what it must evaluate to, is checked by validate.ts with precise paths.
 */

const json: z.ZodType<Json> = z.json();

const overrideAction = z.enum(OVERRIDE_ACTIONS, {
  error: () => `must be one of ${OVERRIDE_ACTIONS.join(', ')}`,
});

const scalarOverrideAction = z.enum(['DO_NOTHING', 'REPLACE', 'FAIL'], {
  error: (issue) =>
    issue.input === 'MERGE'
      ? 'MERGE is valid only for ThingGroups and AttributePayload'
      : 'must be one of DO_NOTHING, REPLACE, FAIL',
});

const parameterSchema = z.strictObject({
  Type: z.literal('String', { error: 'parameter Type must be "String", the only type AWS IoT templates declare' }),
  Default: z.string({ error: 'a parameter Default must be a string' }).optional(),
});

const condition = z.string({ error: 'a resource Condition must name a condition' }).optional();

const thingSchema = z.strictObject({
  Type: z.literal('AWS::IoT::Thing'),
  Properties: z.strictObject({
    ThingName: json,
    AttributePayload: json.optional(),
    ThingTypeName: json.optional(),
    ThingGroups: json.optional(),
    BillingGroup: json.optional(),
  }),
  OverrideSettings: z
    .strictObject({
      AttributePayload: overrideAction.optional(),
      ThingTypeName: scalarOverrideAction.optional(),
      ThingGroups: overrideAction.optional(),
    })
    .optional(),
  Condition: condition,
});

const certificateSchema = z.strictObject({
  Type: z.literal('AWS::IoT::Certificate'),
  Properties: z.strictObject({
    CertificateId: json.optional(),
    CertificatePem: json.optional(),
    CACertificatePem: json.optional(),
    CertificateSigningRequest: json.optional(),
    Status: json.optional(),
  }),
  OverrideSettings: z.strictObject({ Status: scalarOverrideAction.optional() }).optional(),
  Condition: condition,
});

const policySchema = z.strictObject({
  Type: z.literal('AWS::IoT::Policy'),
  Properties: z.strictObject({
    PolicyName: json.optional(),
    PolicyDocument: json.optional(),
  }),
  Condition: condition,
});

const resourceSchema = z.discriminatedUnion('Type', [thingSchema, certificateSchema, policySchema], {
  error: (issue) => (issue.code === 'invalid_union' ? `unknown resource type; expected one of ${RESOURCE_TYPES.join(', ')}` : undefined),
});

const mappingValue = z.union([z.string(), z.array(z.string())], {
  error: 'mapping values must be strings or lists of strings; Mappings may not use parameters or intrinsic functions',
});

export const templateSchema = z.strictObject({
  Parameters: z.record(z.string().min(1), parameterSchema).optional(),
  Mappings: z.record(z.string().min(1), z.record(z.string(), z.record(z.string(), mappingValue))).optional(),
  Conditions: z.record(z.string().min(1), json).optional(),
  Resources: z.record(z.string().min(1), resourceSchema),
  DeviceConfiguration: z.record(z.string(), json).optional(),
});

export type ThingResource = z.infer<typeof thingSchema>;
export type CertificateResource = z.infer<typeof certificateSchema>;
export type PolicyResource = z.infer<typeof policySchema>;
export type TemplateResource = z.infer<typeof resourceSchema>;
export type Mappings = NonNullable<z.infer<typeof templateSchema>['Mappings']>;

/** Every property name the schema knows, for "did you mean" hints on unknown keys. */
export const KNOWN_KEYS: readonly string[] = [
  'Parameters', 'Mappings', 'Conditions', 'Resources', 'DeviceConfiguration',
  'Type', 'Default', 'Properties', 'OverrideSettings', 'Condition',
  'ThingName', 'AttributePayload', 'ThingTypeName', 'ThingGroups', 'BillingGroup',
  'CertificateId', 'CertificatePem', 'CACertificatePem', 'CertificateSigningRequest', 'Status',
  'PolicyName', 'PolicyDocument',
];
