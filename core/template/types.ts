/** A JSON value as found in a template body. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** AWS's limit on a provisioning template body (CreateProvisioningTemplate, templateBody). */
export const MAX_TEMPLATE_BODY_CHARS = 10_240;

/**
 * Deepest JSON nesting parseTemplate accepts. Real templates stay under 15 levels (a policy
 * document with conditions inside a resource); the bound keeps every later walk shallow.
 */
export const MAX_TEMPLATE_DEPTH = 32;

/** Template types as AWS names them in CreateProvisioningTemplate's `type`. */
export type TemplateType = 'FLEET_PROVISIONING' | 'JITP';

export const RESOURCE_TYPES = ['AWS::IoT::Thing', 'AWS::IoT::Certificate', 'AWS::IoT::Policy'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const OVERRIDE_ACTIONS = ['DO_NOTHING', 'REPLACE', 'FAIL', 'MERGE'] as const;
export type OverrideAction = (typeof OVERRIDE_ACTIONS)[number];
/** MERGE only makes sense for collections, so AWS allows it only for ThingGroups and AttributePayload. */
export type ScalarOverrideAction = Exclude<OverrideAction, 'MERGE'>;
