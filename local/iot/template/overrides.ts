import { TemplateConflictError } from './errors.js';
import type { OverrideAction } from '@global-iot/core/template/types.js';
import { DEFAULT_OVERRIDE_ACTION, type ThingOverrideSettings, type ThingState } from './types.js';

export interface ThingOverrideOutcome {
  /** `create`: no thing yet; `update`: the registry must change; `unchanged`: it already matches. */
  readonly action: 'create' | 'update' | 'unchanged';
  readonly thing: ThingState;
}

type Property = TemplateConflictError['property'];

function sameAttributes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((group) => set.has(group));
}

function conflict(thingName: string, property: Property): TemplateConflictError {
  return new TemplateConflictError(
    thingName,
    property,
    `thing '${thingName}' already exists with a different ${property}, and its override setting is FAIL`,
  );
}

/** Applies a DO_NOTHING, REPLACE or FAIL setting to one property. */
function scalar<T>(
  action: OverrideAction,
  existing: T,
  desired: T,
  same: (a: T, b: T) => boolean,
  thingName: string,
  property: Property,
): T {
  switch (action) {
    case 'DO_NOTHING':
      return existing;
    case 'FAIL':
      if (!same(existing, desired)) throw conflict(thingName, property);
      return existing;
    case 'REPLACE':
      // Keeping the existing value when equal preserves its group order, so "unchanged" is exact.
      return same(existing, desired) ? existing : desired;
    case 'MERGE':
      throw new RangeError(`MERGE is valid only for ThingGroups and AttributePayload, not ${property}`);
  }
}

/**
 * Decides what provisioning does to the registry for a thing the template describes, following
 * AWS's OverrideSettings when the thing already exists: DO_NOTHING keeps the existing value,
 * REPLACE takes the template's, FAIL throws TemplateConflictError when they differ, and MERGE
 * (ThingGroups, AttributePayload) unites both, the template winning on an attribute in both.
 * A property without a setting gets DEFAULT_OVERRIDE_ACTION; BillingGroup has no setting in AWS,
 * so it always gets the default.
 */
export function applyThingOverrides(
  existing: ThingState | undefined,
  desired: ThingState,
  overrideSettings: ThingOverrideSettings = {},
): ThingOverrideOutcome {
  const copy = (thing: ThingState): ThingState => ({
    thingName: thing.thingName,
    attributePayload: { ...thing.attributePayload },
    ...(thing.thingTypeName !== undefined && { thingTypeName: thing.thingTypeName }),
    thingGroups: [...thing.thingGroups],
    ...(thing.billingGroup !== undefined && { billingGroup: thing.billingGroup }),
  });
  if (existing === undefined) return { action: 'create', thing: copy(desired) };
  const name = existing.thingName;
  if (desired.thingName !== name) {
    throw new RangeError(`applyThingOverrides compares one thing: '${name}' is not '${desired.thingName}'`);
  }

  const attributeAction = overrideSettings.attributePayload ?? DEFAULT_OVERRIDE_ACTION;
  const attributePayload =
    attributeAction === 'MERGE'
      ? { ...existing.attributePayload, ...desired.attributePayload }
      : scalar(attributeAction, existing.attributePayload, desired.attributePayload, sameAttributes, name, 'AttributePayload');

  const groupAction = overrideSettings.thingGroups ?? DEFAULT_OVERRIDE_ACTION;
  const thingGroups =
    groupAction === 'MERGE'
      ? [...existing.thingGroups, ...desired.thingGroups.filter((group) => !existing.thingGroups.includes(group))]
      : scalar(groupAction, existing.thingGroups, desired.thingGroups, sameGroups, name, 'ThingGroups');

  const sameOptional = (a: string | undefined, b: string | undefined): boolean => a === b;
  const thingTypeName = scalar(
    overrideSettings.thingTypeName ?? DEFAULT_OVERRIDE_ACTION,
    existing.thingTypeName,
    desired.thingTypeName,
    sameOptional,
    name,
    'ThingTypeName',
  );
  const billingGroup = scalar(DEFAULT_OVERRIDE_ACTION, existing.billingGroup, desired.billingGroup, sameOptional, name, 'BillingGroup');

  const thing = copy({ thingName: name, attributePayload, thingTypeName, thingGroups, billingGroup });
  const unchanged =
    sameAttributes(existing.attributePayload, thing.attributePayload) &&
    sameGroups(existing.thingGroups, thing.thingGroups) &&
    existing.thingTypeName === thing.thingTypeName &&
    existing.billingGroup === thing.billingGroup;
  return { action: unchanged ? 'unchanged' : 'update', thing };
}
