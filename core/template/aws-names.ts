import { THING_NAME_PATTERN } from '../thing-name.js';

/**
 * AWS IoT registry naming rules (IoT API reference), checked on literal values at parse time and
 * on evaluated values at provisioning time, so a template cannot produce a name AWS would refuse.
 */
export const NAME_RULES = {
  thingName: { pattern: THING_NAME_PATTERN, rule: '1 to 128 characters of [a-zA-Z0-9:_-]' },
  /** Thing type, thing group and billing group names follow the thing-name rule. */
  registryName: { pattern: THING_NAME_PATTERN, rule: '1 to 128 characters of [a-zA-Z0-9:_-]' },
  policyName: { pattern: /^[\w+=,.@-]{1,128}$/, rule: '1 to 128 characters of [a-zA-Z0-9_+=,.@-]' },
  attributeName: { pattern: /^[a-zA-Z0-9_.,@/:#-]{1,128}$/, rule: '1 to 128 characters of [a-zA-Z0-9_.,@/:#-]' },
  attributeValue: { pattern: /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/, rule: 'at most 800 characters of [a-zA-Z0-9_.,@/:#=[]-]' },
} as const;

export type NameRule = (typeof NAME_RULES)[keyof typeof NAME_RULES];

/** AWS's rule for provisioning template names: 1 to 36 characters of [0-9A-Za-z_-]. */
const TEMPLATE_NAME_PATTERN = /^[0-9A-Za-z_-]{1,36}$/;

export function isValidTemplateName(name: unknown): name is string {
  return typeof name === 'string' && TEMPLATE_NAME_PATTERN.test(name);
}
