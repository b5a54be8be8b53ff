import { describe, expect, it } from 'vitest';
import { CERTIFICATE_ID, evaluateBody, evaluationErrorOf, expressionTemplate, fleetTemplate } from './helpers.js';

const parameters = { Serial: 'SN-7', Csv: 'a,b,c', Index: '1', Location: 'Seattle' };
const declared = {
  Parameters: {
    Serial: { Type: 'String' },
    Csv: { Type: 'String' },
    Index: { Type: 'String' },
    Location: { Type: 'String' },
    Stage: { Type: 'String', Default: 'prod' },
  },
  Mappings: {
    Sites: {
      Seattle: { Url: 'https://sea.example.com', Groups: ['west', 'coast'] },
      Paris: { Url: 'https://par.example.com', Groups: ['europe'] },
    },
  },
};

/** Evaluates one expression placed in DeviceConfiguration and returns its value. */
function valueOf(expression: unknown, context: Record<string, unknown> = {}): string | undefined {
  return evaluateBody(expressionTemplate(expression, declared), { parameters, ...context }).deviceConfiguration.out;
}

describe('Ref', () => {
  it.each<[string, unknown, Record<string, unknown>, string]>([
    ['a parameter', { Ref: 'Serial' }, {}, 'SN-7'],
    ['a parameter default', { Ref: 'Stage' }, {}, 'prod'],
    ['a given value over the default', { Ref: 'Stage' }, { parameters: { ...parameters, Stage: 'beta' } }, 'beta'],
    ['the certificate id', { Ref: 'AWS::IoT::Certificate::Id' }, {}, CERTIFICATE_ID],
    ['the region', { Ref: 'AWS::Region' }, { region: 'eu-west-1' }, 'eu-west-1'],
    ['the account id', { Ref: 'AWS::AccountId' }, { accountId: '123456789012' }, '123456789012'],
    ['the thing resource', { Ref: 'thing' }, {}, 'fixed-name'],
  ])('resolves %s', (_label, expression, context, expected) => {
    // Prepare: the expression and context are the parameters

    // Act
    const value = valueOf(expression, context);

    // Assess
    expect(value).toBe(expected);
  });

  it.each([
    ['AWS::Region', 'AWS::Region is not known to this evaluation'],
    ['AWS::AccountId', 'AWS::AccountId is not known to this evaluation'],
  ])('fails on %s when the context does not know it', (name, message) => {
    // Prepare
    const body = expressionTemplate({ Ref: name });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.out.Ref');
    expect(error.message).toContain(message);
  });

  it('takes pseudo parameters from the context, never from device parameters', () => {
    // Prepare
    const body = expressionTemplate({ Ref: 'AWS::IoT::Certificate::Id' }, {
      Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
    });

    // Act
    const result = evaluateBody(body, { parameters: { 'AWS::IoT::Certificate::Id': 'someone-elses-certificate' } });

    // Assess
    expect(result.deviceConfiguration.out).toBe(CERTIFICATE_ID);
  });

  it('removes a DeviceConfiguration entry that is AWS::NoValue', () => {
    // Prepare
    const body = fleetTemplate({ DeviceConfiguration: { kept: 'yes', dropped: { Ref: 'AWS::NoValue' } } });

    // Act
    const result = evaluateBody(body);

    // Assess
    expect(result.deviceConfiguration).toEqual({ kept: 'yes' });
  });
});

describe('Fn::Join', () => {
  it.each<[string, unknown, string]>([
    ['literals and Refs', { 'Fn::Join': ['-', ['dev', { Ref: 'Serial' }, 'x']] }, 'dev-SN-7-x'],
    ['with an empty delimiter', { 'Fn::Join': ['', ['a', 'b']] }, 'ab'],
    ['an empty list', { 'Fn::Join': [',', []] }, ''],
    ['a list from Fn::Split', { 'Fn::Join': ['/', { 'Fn::Split': [',', { Ref: 'Csv' }] }] }, 'a/b/c'],
    ['a list from a mapping', { 'Fn::Join': ['+', { 'Fn::FindInMap': ['Sites', 'Seattle', 'Groups'] }] }, 'west+coast'],
  ])('joins %s', (_label, expression, expected) => {
    // Prepare: the expression is the parameter

    // Act
    const value = valueOf(expression);

    // Assess
    expect(value).toBe(expected);
  });

  it('fails when an item evaluates to a list', () => {
    // Prepare
    const expression = { 'Fn::Join': [',', [{ 'Fn::FindInMap': ['Sites', 'Seattle', 'Groups'] }]] };

    // Act
    const error = evaluationErrorOf(() => valueOf(expression));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.out["Fn::Join"][1][0]');
    expect(error.message).toContain('expected a string, got a list');
  });

  it('fails when its list is a string', () => {
    // Prepare
    const expression = { 'Fn::Join': [',', { 'Fn::Select': [0, [['a'], 'b']] }] };
    const notAList = { 'Fn::Join': [',', { 'Fn::Select': [1, [['a'], 'b']] }] };

    // Act
    const works = valueOf(expression);
    const error = evaluationErrorOf(() => valueOf(notAList));

    // Assess
    expect(works).toBe('a');
    expect(error.message).toContain('expected a list, got a string');
  });
});

describe('Fn::Select', () => {
  it.each<[string, unknown, string]>([
    ['a numeric index', { 'Fn::Select': [2, ['a', 'b', 'c']] }, 'c'],
    ['an index written as a string', { 'Fn::Select': ['0', ['a', 'b']] }, 'a'],
    ['an index from a parameter', { 'Fn::Select': [{ Ref: 'Index' }, { 'Fn::Split': [',', { Ref: 'Csv' }] }] }, 'b'],
  ])('selects with %s', (_label, expression, expected) => {
    // Prepare: the expression is the parameter

    // Act
    const value = valueOf(expression);

    // Assess
    expect(value).toBe(expected);
  });

  it.each<[string, unknown, string]>([
    ['an index out of range', { 'Fn::Select': [3, ['a', 'b', 'c']] }, 'index 3 is out of range for a list of 3'],
    ['a null item', { 'Fn::Select': [0, [null]] }, 'item 0 is null'],
    ['an index parameter that is not a number', { 'Fn::Select': [{ Ref: 'Serial' }, ['a']] }, 'the index must be a non-negative integer'],
  ])('fails on %s', (_label, expression, message) => {
    // Prepare: the expression is the parameter

    // Act
    const error = evaluationErrorOf(() => valueOf(expression));

    // Assess
    expect(error.message).toContain(message);
  });
});

describe('Fn::Split', () => {
  it('splits a parameter into a list usable as thing groups', () => {
    // Prepare
    const body = {
      ...declared,
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'n', ThingGroups: { 'Fn::Split': [',', { Ref: 'Csv' }] } } } },
    };

    // Act
    const result = evaluateBody(body, { parameters });

    // Assess
    expect(result.thing?.thingGroups).toEqual(['a', 'b', 'c']);
  });

  it('keeps empty pieces, as a split does', () => {
    // Prepare
    const expression = { 'Fn::Join': ['|', { 'Fn::Split': [',', ',x,'] }] };

    // Act
    const value = valueOf(expression);

    // Assess
    expect(value).toBe('|x|');
  });
});

describe('Fn::Sub', () => {
  it.each<[string, unknown, string]>([
    ['parameters', { 'Fn::Sub': 'dev-${Serial}-${Stage}' }, 'dev-SN-7-prod'],
    ['pseudo parameters', { 'Fn::Sub': 'arn:aws:iot:${AWS::Region}:${AWS::AccountId}:cert/${AWS::IoT::Certificate::Id}' }, `arn:aws:iot:eu-west-1:123456789012:cert/${CERTIFICATE_ID}`],
    ['a resource name', { 'Fn::Sub': 'thing/${thing}' }, 'thing/fixed-name'],
    ['an escaped literal', { 'Fn::Sub': '${!Serial} is ${Serial}' }, '${Serial} is SN-7'],
    ['an unclosed ${', { 'Fn::Sub': 'cost ${ 5' }, 'cost ${ 5'],
    ['a variable map', { 'Fn::Sub': ['${Site}/${Serial}', { Site: { 'Fn::FindInMap': ['Sites', { Ref: 'Location' }, 'Url'] } }] }, 'https://sea.example.com/SN-7'],
    ['a variable that shadows a parameter', { 'Fn::Sub': ['${Serial}', { Serial: 'shadowed' }] }, 'shadowed'],
    ['the same variable twice', { 'Fn::Sub': '${Serial}${Serial}' }, 'SN-7SN-7'],
  ])('substitutes %s', (_label, expression, expected) => {
    // Prepare: the expression is the parameter

    // Act
    const value = valueOf(expression, { region: 'eu-west-1', accountId: '123456789012' });

    // Assess
    expect(value).toBe(expected);
  });

  it('fails when a variable evaluates to a list', () => {
    // Prepare
    const expression = { 'Fn::Sub': ['${Groups}', { Groups: { 'Fn::FindInMap': ['Sites', 'Paris', 'Groups'] } }] };

    // Act
    const error = evaluationErrorOf(() => valueOf(expression));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.out["Fn::Sub"][1].Groups');
    expect(error.message).toContain('expected a string, got a list');
  });
});

describe('Fn::FindInMap', () => {
  it('looks a value up with a key from a parameter', () => {
    // Prepare
    const expression = { 'Fn::FindInMap': ['Sites', { Ref: 'Location' }, 'Url'] };

    // Act
    const value = valueOf(expression);

    // Assess
    expect(value).toBe('https://sea.example.com');
  });

  it.each([
    ['Tokyo', "mapping 'Sites' has no key 'Tokyo'"],
    ['constructor', "mapping 'Sites' has no key 'constructor'"],
  ])('fails on a top key %s that the mapping lacks', (location, message) => {
    // Prepare
    const expression = { 'Fn::FindInMap': ['Sites', { Ref: 'Location' }, 'Url'] };

    // Act
    const error = evaluationErrorOf(() => valueOf(expression, { parameters: { ...parameters, Location: location } }));

    // Assess
    expect(error.message).toContain(message);
  });

  it('fails on a second key the mapping lacks', () => {
    // Prepare
    const expression = { 'Fn::FindInMap': ['Sites', 'Seattle', { Ref: 'Serial' }] };

    // Act
    const error = evaluationErrorOf(() => valueOf(expression));

    // Assess
    expect(error.message).toContain("mapping 'Sites' has no key 'SN-7' under 'Seattle'");
  });

  it('fails when a list value is used where a string is needed', () => {
    // Prepare
    const expression = { 'Fn::FindInMap': ['Sites', 'Seattle', 'Groups'] };

    // Act
    const error = evaluationErrorOf(() => valueOf(expression));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.out');
    expect(error.message).toContain('expected a string, got a list');
  });
});

describe('Fn::If', () => {
  const conditions = { Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] } } };

  it.each([
    ['prod', 'production'],
    ['beta', 'testing'],
  ])('picks the branch for stage %s', (stage, expected) => {
    // Prepare
    const body = expressionTemplate({ 'Fn::If': ['IsProd', 'production', 'testing'] }, { ...declared, ...conditions });

    // Act
    const result = evaluateBody(body, { parameters: { ...parameters, Stage: stage } });

    // Assess
    expect(result.deviceConfiguration.out).toBe(expected);
  });

  it('evaluates only the branch it picks', () => {
    // Prepare
    const body = expressionTemplate({ 'Fn::If': ['IsProd', 'production', { Ref: 'AWS::Region' }] }, { ...declared, ...conditions });

    // Act
    const result = evaluateBody(body, { parameters });

    // Assess
    expect(result.deviceConfiguration.out).toBe('production');
  });

  it('drops an attribute and a thing group with AWS::NoValue', () => {
    // Prepare
    const noValueUnlessProd = (value: string) => ({ 'Fn::If': ['IsProd', value, { Ref: 'AWS::NoValue' }] });
    const body = {
      ...declared,
      ...conditions,
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: 'n',
            AttributePayload: { always: 'yes', prodOnly: noValueUnlessProd('yes') },
            ThingGroups: ['all', noValueUnlessProd('prod-devices')],
            ThingTypeName: noValueUnlessProd('ProdType'),
          },
        },
      },
    };

    // Act
    const prod = evaluateBody(body, { parameters }).thing;
    const beta = evaluateBody(body, { parameters: { ...parameters, Stage: 'beta' } }).thing;

    // Assess
    expect(prod).toMatchObject({ attributePayload: { always: 'yes', prodOnly: 'yes' }, thingGroups: ['all', 'prod-devices'], thingTypeName: 'ProdType' });
    expect(beta?.attributePayload).toEqual({ always: 'yes' });
    expect(beta?.thingGroups).toEqual(['all']);
    expect(beta).not.toHaveProperty('thingTypeName');
  });
});
