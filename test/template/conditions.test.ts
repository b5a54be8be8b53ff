import { describe, expect, it } from 'vitest';
import { evaluateBody, evaluationErrorOf, expressionTemplate } from './helpers.js';

const parameters = { Stage: 'prod', Region: 'eu-west-1' };
const base = {
  Parameters: { Stage: { Type: 'String' }, Region: { Type: 'String' } },
  Mappings: { Lists: { all: { regions: ['eu-west-1', 'us-east-1'] } } },
};
const equals = (parameter: string, value: string) => ({ 'Fn::Equals': [{ Ref: parameter }, value] });

/** Evaluates condition C through an Fn::If and returns 'true' or 'false'. */
function conditionValue(condition: unknown, extra: Record<string, unknown> = {}, given = parameters): string | undefined {
  const body = expressionTemplate({ 'Fn::If': ['C', 'true', 'false'] }, { ...base, Conditions: { C: condition, ...extra } });
  return evaluateBody(body, { parameters: given }).deviceConfiguration.out;
}

describe('condition functions', () => {
  it.each<[string, unknown, string]>([
    ['Fn::Equals on equal strings', equals('Stage', 'prod'), 'true'],
    ['Fn::Equals on different strings', equals('Stage', 'beta'), 'false'],
    ['Fn::Equals on two computed values', { 'Fn::Equals': [{ 'Fn::Sub': '${Stage}-x' }, { 'Fn::Join': ['-', ['prod', 'x']] }] }, 'true'],
    ['Fn::Not of true', { 'Fn::Not': [equals('Stage', 'prod')] }, 'false'],
    ['Fn::Not of false', { 'Fn::Not': [equals('Stage', 'beta')] }, 'true'],
    ['Fn::And of all true', { 'Fn::And': [equals('Stage', 'prod'), equals('Region', 'eu-west-1')] }, 'true'],
    ['Fn::And with one false', { 'Fn::And': [equals('Stage', 'prod'), equals('Region', 'us-east-1')] }, 'false'],
    ['Fn::Or with one true', { 'Fn::Or': [equals('Stage', 'beta'), equals('Region', 'eu-west-1')] }, 'true'],
    ['Fn::Or of all false', { 'Fn::Or': [equals('Stage', 'beta'), equals('Region', 'us-east-1')] }, 'false'],
    ['a Condition reference', { Condition: 'IsProd' }, 'true'],
    ['nested functions', { 'Fn::And': [{ Condition: 'IsProd' }, { 'Fn::Not': [{ 'Fn::Or': [equals('Region', 'us-east-1'), equals('Region', 'ap-south-1')] }] }] }, 'true'],
  ])('evaluates %s', (_label, condition, expected) => {
    // Prepare: the condition is the parameter

    // Act
    const value = conditionValue(condition, { IsProd: equals('Stage', 'prod') });

    // Assess
    expect(value).toBe(expected);
  });

  it('fails when Fn::Equals is given a list', () => {
    // Prepare
    const condition = { 'Fn::Equals': [{ 'Fn::FindInMap': ['Lists', 'all', 'regions'] }, 'eu-west-1'] };

    // Act
    const error = evaluationErrorOf(() => conditionValue(condition));

    // Assess
    expect(error.path).toBe('$.Conditions.C["Fn::Equals"][0]');
    expect(error.message).toContain('Fn::Equals compares strings, got a list');
  });

  it('fails when a condition needs a missing parameter', () => {
    // Prepare
    const condition = equals('Stage', 'prod');

    // Act
    const error = evaluationErrorOf(() => conditionValue(condition, {}, { Region: 'eu-west-1' } as typeof parameters));

    // Assess
    expect(error.message).toContain("missing parameter 'Stage'");
  });
});

describe('resource conditions', () => {
  const body = {
    ...base,
    Conditions: { IsProd: equals('Stage', 'prod') },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'n' }, Condition: 'IsProd' },
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } },
        Condition: 'IsProd',
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'Always' } },
    },
  };

  it('creates resources whose condition holds', () => {
    // Prepare: the body above

    // Act
    const result = evaluateBody(body, { parameters });

    // Assess
    expect(result.thing?.thingName).toBe('n');
    expect(result.certificate?.status).toBe('ACTIVE');
    expect(result.policies).toEqual([{ policyName: 'Always' }]);
  });

  it('skips resources whose condition is false', () => {
    // Prepare: the body above

    // Act
    const result = evaluateBody(body, { parameters: { ...parameters, Stage: 'beta' } });

    // Assess
    expect(result).not.toHaveProperty('thing');
    expect(result).not.toHaveProperty('certificate');
    expect(result.policies).toEqual([{ policyName: 'Always' }]);
  });

  it('fails on a Ref to a resource that is skipped', () => {
    // Prepare
    const referring = { ...body, DeviceConfiguration: { name: { Ref: 'thing' } } };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(referring, { parameters: { ...parameters, Stage: 'beta' } }));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.name.Ref');
    expect(error.message).toContain("resource 'thing' is not created");
  });
});
