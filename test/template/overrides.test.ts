import { describe, expect, it } from 'vitest';
import { ProvisioningError } from '@global-iot/core/errors.js';
import { TemplateError, type OverrideAction } from '@global-iot/core/template/index.js';
import { TemplateConflictError, applyThingOverrides, type ThingOverrideSettings, type ThingState } from '@global-iot/local/iot/template/index.js';
import { thrownBy } from './helpers.js';

const existing: ThingState = {
  thingName: 'dev-1',
  attributePayload: { region: 'eu-west-1', model: 'x1' },
  thingTypeName: 'Bulb',
  thingGroups: ['fleet', 'europe'],
  billingGroup: 'Billing',
};

/** The template's view of the same thing: every property differs from `existing`. */
const different: ThingState = {
  thingName: 'dev-1',
  attributePayload: { region: 'us-east-1', firmware: '2' },
  thingTypeName: 'Lamp',
  thingGroups: ['fleet', 'america'],
  billingGroup: 'OtherBilling',
};

type Property = keyof ThingOverrideSettings;

const merged: Record<'attributePayload' | 'thingGroups', unknown> = {
  attributePayload: { region: 'us-east-1', model: 'x1', firmware: '2' },
  thingGroups: ['fleet', 'europe', 'america'],
};

const cases: [Property, OverrideAction][] = [
  ['attributePayload', 'DO_NOTHING'],
  ['attributePayload', 'REPLACE'],
  ['attributePayload', 'FAIL'],
  ['attributePayload', 'MERGE'],
  ['thingTypeName', 'DO_NOTHING'],
  ['thingTypeName', 'REPLACE'],
  ['thingTypeName', 'FAIL'],
  ['thingGroups', 'DO_NOTHING'],
  ['thingGroups', 'REPLACE'],
  ['thingGroups', 'FAIL'],
  ['thingGroups', 'MERGE'],
];

describe('applyThingOverrides', () => {
  it.each(cases)('creates the thing when none exists (%s %s)', (property, action) => {
    // Prepare
    const settings: ThingOverrideSettings = { [property]: action };

    // Act
    const outcome = applyThingOverrides(undefined, different, settings);

    // Assess
    expect(outcome).toEqual({ action: 'create', thing: different });
    expect(outcome.thing.thingGroups).not.toBe(different.thingGroups);
  });

  it.each(cases)('leaves an identical thing unchanged (%s %s)', (property, action) => {
    // Prepare
    const settings: ThingOverrideSettings = { [property]: action };

    // Act
    const outcome = applyThingOverrides(existing, { ...existing }, settings);

    // Assess
    expect(outcome).toEqual({ action: 'unchanged', thing: existing });
  });

  it.each(cases)('applies %s %s to a thing that differs', (property, action) => {
    // Prepare: only `property` has a setting; the others keep theirs (DO_NOTHING by default).
    const settings: ThingOverrideSettings = { [property]: action };

    // Act
    const run = () => applyThingOverrides(existing, different, settings);

    // Assess
    if (action === 'FAIL') {
      expect(run).toThrow(TemplateConflictError);
      return;
    }
    const outcome = run();
    const expected =
      action === 'DO_NOTHING' ? existing[property] : action === 'REPLACE' ? different[property] : merged[property as 'thingGroups'];
    expect(outcome.thing[property]).toEqual(expected);
    expect(outcome.action).toBe(action === 'DO_NOTHING' ? 'unchanged' : 'update');
    expect(outcome.thing.billingGroup).toBe('Billing');
  });

  it('keeps every existing value when OverrideSettings are absent', () => {
    // Prepare: the existing thing and a template that differs everywhere

    // Act
    const outcome = applyThingOverrides(existing, different);

    // Assess
    expect(outcome).toEqual({ action: 'unchanged', thing: existing });
  });

  it('reports the conflicting property on FAIL', () => {
    // Prepare
    const settings: ThingOverrideSettings = { attributePayload: 'MERGE', thingGroups: 'FAIL' };

    // Act
    const error = thrownBy(() => applyThingOverrides(existing, different, settings));

    // Assess
    if (!(error instanceof TemplateConflictError)) throw new Error('expected a TemplateConflictError');
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error.thingName).toBe('dev-1');
    expect(error.property).toBe('ThingGroups');
    expect(error.message).toBe("thing 'dev-1' already exists with a different ThingGroups, and its override setting is FAIL");
  });

  it('treats thing groups as a set when comparing', () => {
    // Prepare
    const reordered: ThingState = { ...existing, thingGroups: ['europe', 'fleet'] };

    // Act
    const failed = applyThingOverrides(existing, reordered, { thingGroups: 'FAIL' });
    const replaced = applyThingOverrides(existing, reordered, { thingGroups: 'REPLACE' });

    // Assess
    expect(failed.action).toBe('unchanged');
    expect(replaced).toEqual({ action: 'unchanged', thing: existing });
  });

  it('removes the thing type when REPLACE meets a template without one', () => {
    // Prepare
    const untyped: ThingState = { ...existing, thingTypeName: undefined };

    // Act
    const outcome = applyThingOverrides(existing, untyped, { thingTypeName: 'REPLACE' });

    // Assess
    expect(outcome.action).toBe('update');
    expect(outcome.thing).not.toHaveProperty('thingTypeName');
  });

  it('lets the template win on an attribute present on both sides of a MERGE', () => {
    // Prepare
    const desired: ThingState = { ...existing, attributePayload: { model: 'x2' } };

    // Act
    const outcome = applyThingOverrides(existing, desired, { attributePayload: 'MERGE' });

    // Assess
    expect(outcome.thing.attributePayload).toEqual({ region: 'eu-west-1', model: 'x2' });
  });

  it('refuses to compare two different things', () => {
    // Prepare
    const other: ThingState = { ...existing, thingName: 'dev-2' };

    // Act
    const run = () => applyThingOverrides(existing, other);

    // Assess
    expect(run).toThrow(RangeError);
  });

  it('refuses MERGE on the thing type even when the type system is bypassed', () => {
    // Prepare
    const settings = { thingTypeName: 'MERGE' } as unknown as ThingOverrideSettings;

    // Act
    const run = () => applyThingOverrides(existing, different, settings);

    // Assess
    expect(run).toThrow('MERGE is valid only for ThingGroups and AttributePayload, not ThingTypeName');
  });
});
