import { describe, expect, it } from 'vitest';
import { ProvisioningError } from '@global-iot/core/errors.js';
import {
  MAX_TEMPLATE_BODY_CHARS,
  TemplateError,
  TemplateValidationError,
  isValidTemplateName,
  parseTemplate,
} from '@global-iot/core/template/index.js';
import { fleetTemplate, issuesOf, readExampleTemplate, thrownBy } from './helpers.js';

const thing = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  Type: 'AWS::IoT::Thing',
  Properties: { ThingName: 'fixed-name', ...properties },
  ...extra,
});
const fleetCertificate = { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } } };

describe('parseTemplate accepts valid bodies', () => {
  it('returns the sections of a string body unchanged', () => {
    // Prepare
    const body = readExampleTemplate('globalFleet');

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(JSON.parse(JSON.stringify(template))).toEqual(JSON.parse(body));
  });

  it('accepts the same template given as an object', () => {
    // Prepare
    const body: unknown = JSON.parse(readExampleTemplate('awsFleetProvisioning'));

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(template.Resources.thing?.Type).toBe('AWS::IoT::Thing');
  });

  it('accepts a body of exactly the maximum size', () => {
    // Prepare
    const compact = JSON.stringify(fleetTemplate());
    const body = compact.slice(0, -1) + ' '.repeat(MAX_TEMPLATE_BODY_CHARS - compact.length) + '}';

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(body.length).toBe(MAX_TEMPLATE_BODY_CHARS);
    expect(template.Resources.thing?.Type).toBe('AWS::IoT::Thing');
  });

  it('allows several policy resources', () => {
    // Prepare
    const body = fleetTemplate({
      Resources: {
        a: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'A' } },
        b: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'B' } },
      },
    });

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(Object.keys(template.Resources)).toEqual(['a', 'b']);
  });

  it('accepts FindInMap keys computed from parameters, checked later', () => {
    // Prepare
    const body = fleetTemplate({
      Parameters: { Location: { Type: 'String' } },
      Mappings: { Table: { Seattle: { Url: 'https://example.aws' } } },
      DeviceConfiguration: { url: { 'Fn::FindInMap': ['Table', { Ref: 'Location' }, 'Url'] } },
    });

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(template.DeviceConfiguration).toHaveProperty('url');
  });
});

describe('parseTemplate rejects bodies that are not templates', () => {
  it('rejects a body over 10,240 characters', () => {
    // Prepare
    const body = JSON.stringify(fleetTemplate({ DeviceConfiguration: { pad: 'x'.repeat(MAX_TEMPLATE_BODY_CHARS) } }));

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$', message: expect.stringContaining('at most 10240') }]);
  });

  it('measures an object body as the JSON it serialises to', () => {
    // Prepare
    const body = fleetTemplate({ DeviceConfiguration: { pad: 'x'.repeat(MAX_TEMPLATE_BODY_CHARS) } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues[0]?.message).toContain('at most 10240');
  });

  it('rejects text that is not JSON, keeping the parser error as cause', () => {
    // Prepare
    const body = '{"Resources": ';

    // Act
    const error = thrownBy(() => parseTemplate(body));

    // Assess
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toBeInstanceOf(ProvisioningError);
    expect((error as TemplateValidationError).path).toBe('$');
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it.each(['[]', '"template"', '42', 'null', 'true'])('rejects the non-object JSON %s', (body) => {
    // Prepare: the body is the parameter

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$', message: expect.stringContaining('must be a JSON object') }]);
  });

  it.each([
    ['a BigInt', { Resources: {}, n: 1n }],
    ['a function', () => ({})],
    ['undefined', undefined],
  ])('rejects an object body holding %s', (_label, body) => {
    // Prepare: the body is the parameter

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues[0]?.path).toBe('$');
  });

  it('rejects a circular object body', () => {
    // Prepare
    const body: Record<string, unknown> = { Resources: {} };
    body.self = body;

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$', message: 'the template cannot be serialised as JSON' }]);
  });

  it('rejects nesting deeper than the limit, at the first too-deep node', () => {
    // Prepare
    let deep: unknown = 'x';
    for (let level = 0; level < 40; level += 1) deep = [deep];
    const body = fleetTemplate({ DeviceConfiguration: { deep } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toMatch(/^\$\.DeviceConfiguration\.deep(\[0\])+$/);
    expect(issues[0]?.message).toContain('deeper than 32');
  });

  it('rejects thousands of levels of nesting without overflowing the stack', () => {
    // Prepare
    const body = `{"Resources": {}, "DeviceConfiguration": {"x": ${'['.repeat(5000)}${']'.repeat(5000)}}}`;

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues[0]?.message).toContain('deeper than 32');
  });

  it.each([
    ['Parameters', '{"Resources": {}, "Parameters": {"__proto__": {"Type": "String"}}}', '$.Parameters.__proto__'],
    ['Resources', '{"Resources": {"__proto__": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "p"}}}}', '$.Resources.__proto__'],
    [
      'AttributePayload',
      '{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "n", "AttributePayload": {"__proto__": {"polluted": "yes"}}}}}}',
      '$.Resources.t.Properties.AttributePayload.__proto__',
    ],
  ])('rejects a __proto__ key in %s and pollutes nothing', (_section, body, path) => {
    // Prepare: the body is the parameter

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path, message: "'__proto__' is not allowed as a key" }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).Type).toBeUndefined();
  });
});

describe('parseTemplate reports structural problems with their JSON path', () => {
  it.each<[string, unknown, string, string | RegExp]>([
    ['an unknown section', { Resources: {}, Outputs: {} }, '$.Outputs', /unknown section 'Outputs'/],
    ['a section that is not an object', { Resources: {}, Mappings: 'x' }, '$.Mappings', 'expected an object, got a string'],
    ['a resource that is a list', { Resources: { x: [] } }, '$.Resources.x', 'expected an object, got a list'],
    ['an empty resource name', { Resources: { '': { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'p' } } } }, '$.Resources[""]', 'names must not be empty'],
    ['a missing Resources section', { Parameters: {} }, '$.Resources', "missing required property 'Resources'"],
    ['an unknown resource type', { Resources: { x: { Type: 'AWS::IoT::Widget', Properties: {} } } }, '$.Resources.x.Type', /unknown resource type "AWS::IoT::Widget"/],
    ['a resource without Type', { Resources: { x: { Properties: {} } } }, '$.Resources.x.Type', "missing required property 'Type'"],
    ['a thing without ThingName', { Resources: { t: { Type: 'AWS::IoT::Thing', Properties: {} } } }, '$.Resources.t.Properties.ThingName', "missing required property 'ThingName'"],
    ['an unknown thing property', { Resources: { t: thing({ Colour: 'red' }) } }, '$.Resources.t.Properties.Colour', "unknown property 'Colour'"],
    ['a miscased property, with a hint', { Resources: { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateID: 'x' } } } }, '$.Resources.c.Properties.CertificateID', /did you mean 'CertificateId'/],
    ['PackageVersions', { Resources: { t: thing({ PackageVersions: {} }) } }, '$.Resources.t.Properties.PackageVersions', /not supported/],
    ['an unknown resource key', { Resources: { t: thing({}, { DependsOn: 'x' }) } }, '$.Resources.t.DependsOn', "unknown property 'DependsOn'"],
    ['a Number parameter', { Parameters: { P: { Type: 'Number' } }, Resources: {} }, '$.Parameters.P.Type', /must be "String"/],
    ['a non-string Default', { Parameters: { P: { Type: 'String', Default: 3 } }, Resources: {} }, '$.Parameters.P.Default', /must be a string/],
    ['an unknown parameter key', { Parameters: { P: { Type: 'String', AllowedValues: ['a'] } }, Resources: {} }, '$.Parameters.P.AllowedValues', /unknown property/],
    ['a mapping value using an intrinsic', { Mappings: { M: { k: { v: { Ref: 'P' } } } }, Resources: {} }, '$.Mappings.M.k.v', /Mappings may not use/],
    ['an override setting value', { Resources: { t: thing({}, { OverrideSettings: { ThingGroups: 'SKIP' } }) } }, '$.Resources.t.OverrideSettings.ThingGroups', /must be one of DO_NOTHING, REPLACE, FAIL, MERGE/],
    ['MERGE on ThingTypeName', { Resources: { t: thing({}, { OverrideSettings: { ThingTypeName: 'MERGE' } }) } }, '$.Resources.t.OverrideSettings.ThingTypeName', 'MERGE is valid only for ThingGroups and AttributePayload'],
    ['MERGE on certificate Status', { Resources: { c: { ...fleetCertificate, OverrideSettings: { Status: 'MERGE' } } } }, '$.Resources.c.OverrideSettings.Status', 'MERGE is valid only for ThingGroups and AttributePayload'],
    ['an override setting in upper snake case', { Resources: { t: thing({}, { OverrideSettings: { THING_GROUPS: 'MERGE' } }) } }, '$.Resources.t.OverrideSettings.THING_GROUPS', /write it as 'ThingGroups'/],
    ['an override setting for BillingGroup', { Resources: { t: thing({}, { OverrideSettings: { BillingGroup: 'REPLACE' } }) } }, '$.Resources.t.OverrideSettings.BillingGroup', "unknown property 'BillingGroup'"],
    ['OverrideSettings on a policy', { Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'p' }, OverrideSettings: {} } } }, '$.Resources.p.OverrideSettings', 'OverrideSettings are not available for policy resources'],
  ])('rejects %s', (_label, body, path, message) => {
    // Prepare: the body is the parameter

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });
});

describe('parseTemplate checks references and intrinsic functions', () => {
  it.each<[string, Record<string, unknown>, string, string | RegExp]>([
    ['a Ref to an undeclared parameter', { DeviceConfiguration: { x: { Ref: 'Nope' } } }, '$.DeviceConfiguration.x.Ref', "'Nope' is not a declared parameter or resource"],
    ['a Ref inside Fn::Join to an undeclared name', { DeviceConfiguration: { x: { 'Fn::Join': ['-', ['a', { Ref: 'Nope' }]] } } }, '$.DeviceConfiguration.x["Fn::Join"][1][1].Ref', /not a declared parameter/],
    ['a Fn::Sub variable that is not declared', { DeviceConfiguration: { x: { 'Fn::Sub': 'id-${Nope}' } } }, '$.DeviceConfiguration.x["Fn::Sub"]', /'Nope' is not a declared/],
    ['a Fn::Sub attribute reference', { DeviceConfiguration: { x: { 'Fn::Sub': '${thing.Arn}' } } }, '$.DeviceConfiguration.x["Fn::Sub"]', /Fn::GetAtt\) are not supported/],
    ['an empty Fn::Sub variable', { DeviceConfiguration: { x: { 'Fn::Sub': 'a${}b' } } }, '$.DeviceConfiguration.x["Fn::Sub"]', /empty/],
    ['Fn::Sub of a non-literal', { DeviceConfiguration: { x: { 'Fn::Sub': { Ref: 'AWS::Region' } } } }, '$.DeviceConfiguration.x["Fn::Sub"]', 'Fn::Sub takes a literal string'],
    ['Fn::Sub variables that are not an object', { DeviceConfiguration: { x: { 'Fn::Sub': ['${a}', ['a']] } } }, '$.DeviceConfiguration.x["Fn::Sub"][1]', /must be an object/],
    ['FindInMap on an unknown mapping', { DeviceConfiguration: { x: { 'Fn::FindInMap': ['Nope', 'a', 'b'] } } }, '$.DeviceConfiguration.x["Fn::FindInMap"][0]', "no mapping named 'Nope'"],
    ['FindInMap on an unknown top key', { Mappings: { M: { a: { b: 'v' } } }, DeviceConfiguration: { x: { 'Fn::FindInMap': ['M', 'z', 'b'] } } }, '$.DeviceConfiguration.x["Fn::FindInMap"][1]', "mapping 'M' has no key 'z'"],
    ['FindInMap on an unknown second key', { Mappings: { M: { a: { b: 'v' } } }, DeviceConfiguration: { x: { 'Fn::FindInMap': ['M', 'a', 'z'] } } }, '$.DeviceConfiguration.x["Fn::FindInMap"][2]', "mapping 'M' has no key 'z' under 'a'"],
    ['FindInMap with two arguments', { DeviceConfiguration: { x: { 'Fn::FindInMap': ['M', 'a'] } } }, '$.DeviceConfiguration.x["Fn::FindInMap"]', 'Fn::FindInMap takes a list of 3 arguments'],
    ['Fn::If on an unknown condition', { DeviceConfiguration: { x: { 'Fn::If': ['Nope', 'a', 'b'] } } }, '$.DeviceConfiguration.x["Fn::If"][0]', "no condition named 'Nope'"],
    ['a resource Condition that is not declared', { Resources: { t: thing({}, { Condition: 'Nope' }) } }, '$.Resources.t.Condition', "no condition named 'Nope'"],
    ['an unsupported intrinsic', { DeviceConfiguration: { x: { 'Fn::GetAtt': ['thing', 'Arn'] } } }, '$.DeviceConfiguration.x["Fn::GetAtt"]', /unsupported intrinsic function/],
    ['an intrinsic sharing its object', { DeviceConfiguration: { x: { Ref: 'AWS::Region', extra: 'y' } } }, '$.DeviceConfiguration.x', 'an intrinsic function must be the only key of its object'],
    ['Fn::Equals outside Conditions', { DeviceConfiguration: { x: { 'Fn::Equals': ['a', 'b'] } } }, '$.DeviceConfiguration.x["Fn::Equals"]', 'Fn::Equals is only valid in the Conditions section'],
    ['Fn::Join with a non-string delimiter', { DeviceConfiguration: { x: { 'Fn::Join': [1, ['a']] } } }, '$.DeviceConfiguration.x["Fn::Join"][0]', 'the delimiter must be a string'],
    ['Fn::Join with a number in its list', { DeviceConfiguration: { x: { 'Fn::Join': ['', ['a', 1]] } } }, '$.DeviceConfiguration.x["Fn::Join"][1][1]', 'expected a string, got a number'],
    ['Fn::Select with a negative index', { DeviceConfiguration: { x: { 'Fn::Select': [-1, ['a']] } } }, '$.DeviceConfiguration.x["Fn::Select"][0]', 'the index must be a non-negative integer'],
    ['Fn::Select with a word as index', { DeviceConfiguration: { x: { 'Fn::Select': ['first', ['a']] } } }, '$.DeviceConfiguration.x["Fn::Select"][0]', 'the index must be a non-negative integer'],
    ['Fn::Split with an empty delimiter', { DeviceConfiguration: { x: { 'Fn::Select': [0, { 'Fn::Split': ['', 'abc'] }] } } }, '$.DeviceConfiguration.x["Fn::Select"][1]["Fn::Split"][0]', 'the delimiter must be a non-empty string'],
    ['Fn::Split where a string is needed', { DeviceConfiguration: { x: { 'Fn::Split': [',', 'a,b'] } } }, '$.DeviceConfiguration.x["Fn::Split"]', 'Fn::Split returns a list where a string is expected'],
    ['Ref to AWS::NoValue in Fn::Sub', { DeviceConfiguration: { x: { 'Fn::Sub': '${AWS::NoValue}' } } }, '$.DeviceConfiguration.x["Fn::Sub"]', 'AWS::NoValue cannot be used here'],
  ])('rejects %s', (_label, sections, path, message) => {
    // Prepare
    const body = fleetTemplate(sections);

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });

  it('accepts a Ref to a resource and to every pseudo parameter', () => {
    // Prepare
    const body = fleetTemplate({
      DeviceConfiguration: {
        name: { Ref: 'thing' },
        id: { Ref: 'AWS::IoT::Certificate::Id' },
        cn: { Ref: 'AWS::IoT::Certificate::CommonName' },
        region: { 'Fn::Sub': '${AWS::Region}/${AWS::AccountId}' },
      },
    });

    // Act
    const template = parseTemplate(body);

    // Assess
    expect(Object.keys(template.DeviceConfiguration ?? {})).toEqual(['name', 'id', 'cn', 'region']);
  });

  it('rejects a declared parameter in the reserved AWS:: namespace', () => {
    // Prepare
    const body = fleetTemplate({ Parameters: { 'AWS::IoT::Certificate::Colour': { Type: 'String' } } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$.Parameters["AWS::IoT::Certificate::Colour"]', message: expect.stringContaining('reserved') }]);
  });

  it('rejects a resource named like a parameter', () => {
    // Prepare
    const body = fleetTemplate({ Parameters: { thing: { Type: 'String' } } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toContainEqual({ path: '$.Resources.thing', message: expect.stringContaining('names must be unique') });
  });

  it('rejects resources whose names refer to each other in a cycle', () => {
    // Prepare
    const body = {
      Resources: {
        thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['-', [{ Ref: 'policy' }, 'x']] } } },
        policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: { Ref: 'thing' } } },
      },
    };

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$.Resources.thing', message: 'resources refer to each other in a cycle: thing -> policy -> thing' }]);
  });

  it('rejects a Ref to a policy that has only a PolicyDocument', () => {
    // Prepare
    const body = fleetTemplate({
      Resources: {
        policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{}' } },
      },
      DeviceConfiguration: { policy: { Ref: 'policy' } },
    });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$.DeviceConfiguration.policy.Ref', message: "policy 'policy' has no PolicyName to refer to" }]);
  });
});

describe('parseTemplate checks the Conditions section', () => {
  it.each<[string, unknown, string, string | RegExp]>([
    ['a value that is not a condition', 'yes', '$.Conditions.C', /expected a condition function/],
    ['Fn::If inside a condition', { 'Fn::If': ['C', 'a', 'b'] }, '$.Conditions.C["Fn::If"]', 'Fn::If is not a condition function'],
    ['Fn::Equals with one operand', { 'Fn::Equals': ['a'] }, '$.Conditions.C["Fn::Equals"]', 'Fn::Equals takes a list of 2 arguments'],
    ['Fn::Not with two operands', { 'Fn::Not': [{ Condition: 'D' }, { Condition: 'D' }] }, '$.Conditions.C["Fn::Not"]', 'Fn::Not takes a list of 1 arguments'],
    ['Fn::And with one condition', { 'Fn::And': [{ Condition: 'D' }] }, '$.Conditions.C["Fn::And"]', 'Fn::And takes a list of 2 to 10 conditions'],
    ['Fn::Or with eleven conditions', { 'Fn::Or': Array.from({ length: 11 }, () => ({ Condition: 'D' })) }, '$.Conditions.C["Fn::Or"]', 'Fn::Or takes a list of 2 to 10 conditions'],
    ['a Condition naming nothing', { 'Fn::Not': [{ Condition: 'Nope' }] }, '$.Conditions.C["Fn::Not"][0].Condition', "no condition named 'Nope'"],
    ['a Ref to a resource', { 'Fn::Equals': [{ Ref: 'thing' }, 'x'] }, '$.Conditions.C["Fn::Equals"][0].Ref', "conditions cannot refer to resource 'thing'"],
    ['AWS::NoValue', { 'Fn::Equals': [{ Ref: 'AWS::NoValue' }, 'x'] }, '$.Conditions.C["Fn::Equals"][0].Ref', 'AWS::NoValue cannot be used here'],
    ['a cycle', { Condition: 'C' }, '$.Conditions.C', 'conditions refer to each other in a cycle: C -> C'],
  ])('rejects %s', (_label, expression, path, message) => {
    // Prepare
    const body = fleetTemplate({ Conditions: { C: expression, D: { 'Fn::Equals': ['a', 'a'] } } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });
});

describe('parseTemplate checks resources against AWS rules', () => {
  it.each<[string, Record<string, unknown>, string, string | RegExp]>([
    ['two things', { t2: thing({}) }, '$.Resources.t2.Type', 'a template may declare only one AWS::IoT::Thing resource'],
    ['two certificates', { c1: fleetCertificate, c2: fleetCertificate }, '$.Resources.c2.Type', 'a template may declare only one AWS::IoT::Certificate resource'],
    ['a policy with both name and document', { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'p', PolicyDocument: '{}' } } }, '$.Resources.p.Properties', /PolicyName .* or PolicyDocument, not both/],
    ['a policy with neither name nor document', { p: { Type: 'AWS::IoT::Policy', Properties: {} } }, '$.Resources.p.Properties', /PolicyName .* or PolicyDocument, not both/],
    ['a policy document that is not JSON', { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{not json' } } }, '$.Resources.p.Properties.PolicyDocument', 'PolicyDocument must hold a JSON object'],
    ['a policy document that is a number', { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: 7 } } }, '$.Resources.p.Properties.PolicyDocument', /must be a JSON object/],
    ['a policy name AWS refuses', { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'my policy' } } }, '$.Resources.p.Properties.PolicyName', /policy name 'my policy' breaks AWS's rule/],
    ['a fleet certificate without CertificateId', { c: { Type: 'AWS::IoT::Certificate', Properties: { Status: 'ACTIVE' } } }, '$.Resources.c.Properties', /must set CertificateId to \{"Ref": "AWS::IoT::Certificate::Id"\}/],
    ['a fleet certificate naming another certificate', { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: 'abc' } } }, '$.Resources.c.Properties.CertificateId', /must be \{"Ref": "AWS::IoT::Certificate::Id"\}/],
    ['a fleet certificate with a CSR', { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, CertificateSigningRequest: 'csr' } } }, '$.Resources.c.Properties.CertificateSigningRequest', 'only CertificateId can be used in a fleet provisioning template'],
    ['a Status other than ACTIVE or INACTIVE', { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'REVOKED' } } }, '$.Resources.c.Properties.Status', 'Status must be ACTIVE or INACTIVE'],
    ['a thing name AWS refuses', { t: thing({ ThingName: 'my thing' }) }, '$.Resources.t.Properties.ThingName', /thing name 'my thing' breaks AWS's rule/],
    ['a ThingName that is a list', { t: thing({ ThingName: ['a'] }) }, '$.Resources.t.Properties.ThingName', 'expected a string, got a list'],
    ['a ThingName from Fn::Split', { t: thing({ ThingName: { 'Fn::Split': ['-', 'a-b'] } }) }, '$.Resources.t.Properties.ThingName["Fn::Split"]', 'Fn::Split returns a list where a string is expected'],
    ['ThingGroups given as a string', { t: thing({ ThingGroups: 'group' }) }, '$.Resources.t.Properties.ThingGroups', 'expected a list of strings, got a string'],
    ['ThingGroups from Fn::Join', { t: thing({ ThingGroups: { 'Fn::Join': [',', ['a', 'b']] } }) }, '$.Resources.t.Properties.ThingGroups["Fn::Join"]', 'Fn::Join returns a string where a list is expected'],
    ['a thing group name AWS refuses', { t: thing({ ThingGroups: ['ok', 'not ok'] }) }, '$.Resources.t.Properties.ThingGroups[1]', /thing group name 'not ok'/],
    ['an AttributePayload that is a list', { t: thing({ AttributePayload: ['a'] }) }, '$.Resources.t.Properties.AttributePayload', /must be an object/],
    ['an attribute name AWS refuses', { t: thing({ AttributePayload: { 'serial number': 'x' } }) }, '$.Resources.t.Properties.AttributePayload["serial number"]', /attribute name breaks AWS's rule/],
    ['an attribute value AWS refuses', { t: thing({ AttributePayload: { offset: '+02:00' } }) }, '$.Resources.t.Properties.AttributePayload.offset', /attribute value '\+02:00' breaks/],
    ['a nested attribute value', { t: thing({ AttributePayload: { a: { b: 'c' } } }) }, '$.Resources.t.Properties.AttributePayload.a', /expected a string or an intrinsic function, got an object/],
  ])('rejects %s', (_label, resources, path, message) => {
    // Prepare
    const body = { Resources: { t: thing({}), ...resources } };

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });

  it('rejects a DeviceConfiguration that is not flat', () => {
    // Prepare
    const body = fleetTemplate({ DeviceConfiguration: { nested: { a: 'b' } } });

    // Act
    const issues = issuesOf(body);

    // Assess
    expect(issues).toEqual([{ path: '$.DeviceConfiguration.nested', message: expect.stringContaining('expected a string') }]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no certificate source', { Status: 'ACTIVE' }, '$.Resources.c.Properties'],
    ['two certificate sources', { CertificateId: 'id', CertificateSigningRequest: 'csr' }, '$.Resources.c.Properties'],
    ['a CA certificate without a certificate', { CertificateId: 'id', CACertificatePem: 'pem' }, '$.Resources.c.Properties.CACertificatePem'],
  ])('rejects a JITP certificate with %s', (_label, properties, path) => {
    // Prepare
    const body = { Resources: { c: { Type: 'AWS::IoT::Certificate', Properties: properties } } };

    // Act
    const issues = issuesOf(body, { templateType: 'JITP' });

    // Assess
    expect(issues.map((issue) => issue.path)).toContain(path);
  });

  it('accepts a JITP certificate given by its PEM and its CA', () => {
    // Prepare
    const body = {
      Parameters: { CertificatePem: { Type: 'String' }, CACertificatePem: { Type: 'String' } },
      Resources: {
        c: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: { Ref: 'CertificatePem' }, CACertificatePem: { Ref: 'CACertificatePem' } } },
      },
    };

    // Act
    const template = parseTemplate(body, { templateType: 'JITP' });

    // Assess
    expect(template.Resources.c?.Type).toBe('AWS::IoT::Certificate');
  });

  it('reports every problem at once and counts them in the message', () => {
    // Prepare
    const body = fleetTemplate({ DeviceConfiguration: { a: { Ref: 'X' }, b: { Ref: 'Y' }, c: { Ref: 'Z' } } });

    // Act
    const error = thrownBy(() => parseTemplate(body));

    // Assess
    if (!(error instanceof TemplateValidationError)) throw new Error('expected a TemplateValidationError');
    expect(error.issues.map((issue) => issue.path)).toEqual(['$.DeviceConfiguration.a.Ref', '$.DeviceConfiguration.b.Ref', '$.DeviceConfiguration.c.Ref']);
    expect(error.path).toBe('$.DeviceConfiguration.a.Ref');
    expect(error.message).toBe("$.DeviceConfiguration.a.Ref: 'X' is not a declared parameter or resource (and 2 more problems)");
  });
});

describe('isValidTemplateName', () => {
  it.each([
    ['GlobalFleet', true],
    ['a', true],
    ['fleet_template-2', true],
    ['x'.repeat(36), true],
    ['x'.repeat(37), false],
    ['', false],
    ['fleet template', false],
    ['fleet.template', false],
    ['flotte-é', false],
    [42, false],
    [undefined, false],
  ])('says %j is %s', (name, valid) => {
    // Prepare: the name is the parameter

    // Act
    const result = isValidTemplateName(name);

    // Assess
    expect(result).toBe(valid);
  });
});
