import { describe, expect, it } from 'vitest';
import { parseTemplate } from '@global-iot/core/template/index.js';
import { DEFAULT_EVALUATION_LIMITS, TemplateEvaluationError, evaluateTemplate } from '@global-iot/local/iot/template/index.js';
import { CERTIFICATE_ID, evaluateBody, evaluationErrorOf, expressionTemplate, fleetTemplate, readFixture } from './helpers.js';

const fleetCertificate = { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' } } };

describe('parameters', () => {
  const body = expressionTemplate({ Ref: 'Serial' }, { Parameters: { Serial: { Type: 'String' }, Unused: { Type: 'String' } } });

  it('fails when a declared parameter without Default is missing, even if unused', () => {
    // Prepare: the body above

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters: { Serial: 'SN-1' } }));

    // Assess
    expect(error).toBeInstanceOf(TemplateEvaluationError);
    expect(error.path).toBe('$.Parameters.Unused');
    expect(error.message).toBe("$.Parameters.Unused: missing parameter 'Unused' (it has no Default)");
  });

  it('ignores parameters the template does not declare', () => {
    // Prepare: the body above

    // Act
    const result = evaluateBody(body, { parameters: { Serial: 'SN-1', Unused: 'u', Extra: 'ignored' } });

    // Assess
    expect(result.deviceConfiguration).toEqual({ out: 'SN-1' });
  });

  it('fails on a parameter value that is not a string', () => {
    // Prepare
    const parameters = { Serial: 7, Unused: 'u' } as unknown as Record<string, string>;

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters }));

    // Assess
    expect(error.message).toContain("parameter 'Serial' must be a string");
  });

  it('does not read parameters from the prototype of the parameters object', () => {
    // Prepare
    const template = expressionTemplate({ Ref: 'toString' }, { Parameters: { toString: { Type: 'String' } } });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(template, { parameters: {} }));

    // Assess
    expect(error.message).toContain("missing parameter 'toString'");
  });
});

describe('certificate subject parameters', () => {
  const subjectParameters = [
    ['AWS::IoT::Certificate::CommonName', 'lightbulb-0042'],
    ['AWS::IoT::Certificate::Country', 'US'],
    ['AWS::IoT::Certificate::Organization', 'Example Corp'],
    ['AWS::IoT::Certificate::OrganizationalUnit', 'Lighting'],
    ['AWS::IoT::Certificate::StateName', 'WA'],
    ['AWS::IoT::Certificate::SerialNumber', 'SN-0042'],
    ['AWS::IoT::Certificate::DistinguishedNameQualifier', 'q1'],
  ] as const;

  it.each(subjectParameters)('reads %s from the certificate', (name, expected) => {
    // Prepare
    const body = expressionTemplate({ Ref: name });

    // Act
    const result = evaluateBody(body, { certificatePem: readFixture('jitp-device.pem') });

    // Assess
    expect(result.deviceConfiguration.out).toBe(expected);
  });

  it('fails when the certificate lacks a declared subject field, even if unused', () => {
    // Prepare
    const body = fleetTemplate({ Parameters: { 'AWS::IoT::Certificate::Country': { Type: 'String' } } });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { certificatePem: readFixture('common-name-only.pem') }));

    // Assess
    expect(error.path).toBe('$.Parameters["AWS::IoT::Certificate::Country"]');
    expect(error.message).toContain('the certificate subject has no C attribute');
  });

  it('fails when no PEM is given', () => {
    // Prepare
    const body = expressionTemplate({ Ref: 'AWS::IoT::Certificate::CommonName' });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body));

    // Assess
    expect(error.message).toContain('the certificate PEM is needed');
  });

  it('fails on a PEM that is not a certificate, keeping the cause', () => {
    // Prepare
    const body = expressionTemplate({ Ref: 'AWS::IoT::Certificate::CommonName' });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }));

    // Assess
    expect(error.message).toContain('the certificate PEM cannot be parsed');
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('resources', () => {
  it('builds the thing from every property', () => {
    // Prepare
    const body = {
      Parameters: { Name: { Type: 'String' } },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: { Ref: 'Name' },
            AttributePayload: { model: 'x1', constructor: 'kept-as-data' },
            ThingTypeName: 'Bulb',
            ThingGroups: ['a', 'b', 'a'],
            BillingGroup: 'Billing',
          },
          OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'FAIL', ThingGroups: 'REPLACE' },
        },
      },
    };

    // Act
    const result = evaluateBody(body, { parameters: { Name: 'dev-1' } });

    // Assess
    expect(result.thing).toEqual({
      thingName: 'dev-1',
      attributePayload: { model: 'x1', constructor: 'kept-as-data' },
      thingTypeName: 'Bulb',
      thingGroups: ['a', 'b'],
      billingGroup: 'Billing',
      overrideSettings: { attributePayload: 'MERGE', thingTypeName: 'FAIL', thingGroups: 'REPLACE' },
    });
    expect(Object.getPrototypeOf(result.thing?.attributePayload)).toBe(Object.prototype);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a thing name', { ThingName: { Ref: 'Value' } }, '$.Resources.thing.Properties.ThingName', "thing name 'has space' breaks"],
    ['an attribute value', { AttributePayload: { a: { Ref: 'Value' } } }, '$.Resources.thing.Properties.AttributePayload.a', "attribute value 'has space' breaks"],
    ['a thing group', { ThingGroups: [{ Ref: 'Value' }] }, '$.Resources.thing.Properties.ThingGroups[0]', "thing group name 'has space' breaks"],
    ['a thing type', { ThingTypeName: { Ref: 'Value' } }, '$.Resources.thing.Properties.ThingTypeName', "thing type name 'has space' breaks"],
    ['a billing group', { BillingGroup: { Ref: 'Value' } }, '$.Resources.thing.Properties.BillingGroup', "billing group name 'has space' breaks"],
  ])('fails when %s evaluates to a name AWS refuses', (_label, properties, path, message) => {
    // Prepare
    const body = {
      Parameters: { Value: { Type: 'String' } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'n', ...properties } } },
    };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters: { Value: 'has space' } }));

    // Assess
    expect(error.path).toBe(path);
    expect(error.message).toContain(message);
  });

  it('fails when a string property evaluates to a list', () => {
    // Prepare
    const body = {
      Mappings: { M: { k: { list: ['a', 'b'] } } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::FindInMap': ['M', 'k', 'list'] } } } },
    };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body));

    // Assess
    expect(error.path).toBe('$.Resources.thing.Properties.ThingName');
    expect(error.message).toContain('expected a string, got a list');
  });

  it.each([
    [undefined, 'ACTIVE'],
    ['Active', 'ACTIVE'],
    ['inactive', 'INACTIVE'],
  ])('reads certificate Status %s as %s', (status, expected) => {
    // Prepare
    const properties = { ...fleetCertificate.Properties, ...(status !== undefined && { Status: status }) };
    const body = { Resources: { certificate: { ...fleetCertificate, Properties: properties, OverrideSettings: { Status: 'REPLACE' } } } };

    // Act
    const result = evaluateBody(body);

    // Assess
    expect(result.certificate).toEqual({ certificateId: CERTIFICATE_ID, status: expected, overrideSettings: { status: 'REPLACE' } });
  });

  it('fails when Status evaluates to something else', () => {
    // Prepare
    const body = {
      Parameters: { Status: { Type: 'String' } },
      Resources: { certificate: { ...fleetCertificate, Properties: { ...fleetCertificate.Properties, Status: { Ref: 'Status' } } } },
    };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters: { Status: 'REVOKED' } }));

    // Assess
    expect(error.message).toContain("Status must be ACTIVE or INACTIVE, got 'REVOKED'");
  });

  it('returns every policy in order, the first also as `policy`', () => {
    // Prepare
    const body = {
      Resources: {
        named: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'Existing' } },
        inline: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: '{ "Version": "2012-10-17", "Statement": [] }' } },
      },
    };

    // Act
    const result = evaluateBody(body);

    // Assess
    expect(result.policy).toEqual({ policyName: 'Existing' });
    expect(result.policies).toEqual([{ policyName: 'Existing' }, { policyDocument: '{"Version":"2012-10-17","Statement":[]}' }]);
  });

  it('evaluates intrinsic functions inside a policy document object', () => {
    // Prepare
    const body = {
      Parameters: { ThingName: { Type: 'String' } },
      Resources: {
        policy: {
          Type: 'AWS::IoT::Policy',
          Properties: {
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: { 'Fn::Sub': 'arn:aws:iot:${AWS::Region}:${AWS::AccountId}:topic/d/${ThingName}' } }],
            },
          },
        },
      },
    };

    // Act
    const result = evaluateBody(body, { parameters: { ThingName: 'dev-1' }, region: 'eu-west-1', accountId: '123456789012' });

    // Assess
    expect(JSON.parse((result.policy as { policyDocument: string }).policyDocument)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:eu-west-1:123456789012:topic/d/dev-1' }],
    });
  });

  it('fails when a computed policy document is not JSON', () => {
    // Prepare
    const body = { Resources: { policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { 'Fn::Join': ['', ['{', 'broken']] } } } } };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body));

    // Assess
    expect(error.message).toContain('PolicyDocument is not valid JSON');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('returns Ref values of the certificate and a named policy', () => {
    // Prepare
    const body = {
      Resources: {
        certificate: fleetCertificate,
        policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: { 'Fn::Sub': 'p-${certificate}' } } },
      },
      DeviceConfiguration: { certificate: { Ref: 'certificate' }, policy: { Ref: 'policy' } },
    };

    // Act
    const result = evaluateBody(body);

    // Assess
    expect(result.deviceConfiguration).toEqual({ certificate: CERTIFICATE_ID, policy: `p-${CERTIFICATE_ID}` });
  });

  it('returns no thing, certificate or policy when the template declares none', () => {
    // Prepare
    const body = { Resources: {}, DeviceConfiguration: { a: 'b' } };

    // Act
    const result = evaluateBody(body);

    // Assess
    expect(result).toEqual({ policies: [], deviceConfiguration: { a: 'b' } });
  });
});

describe('JITP certificates', () => {
  it('registers the presented certificate when CertificatePem matches it', () => {
    // Prepare
    const pem = readFixture('jitp-device.pem');
    const body = {
      Parameters: { CertificatePem: { Type: 'String' } },
      Resources: { certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: { Ref: 'CertificatePem' } } } },
    };

    // Act
    const result = evaluateBody(body, { parameters: { CertificatePem: pem.replace(/\n/g, '\r\n') }, certificatePem: pem }, {}, { templateType: 'JITP' });

    // Assess
    expect(result.certificate?.certificateId).toBe(CERTIFICATE_ID);
  });

  it('fails when CertificatePem is another certificate', () => {
    // Prepare
    const body = {
      Parameters: { CertificatePem: { Type: 'String' } },
      Resources: { certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: { Ref: 'CertificatePem' } } } },
    };

    // Act
    const error = evaluationErrorOf(() =>
      evaluateBody(body, { parameters: { CertificatePem: readFixture('common-name-only.pem') }, certificatePem: readFixture('jitp-device.pem') }, {}, { templateType: 'JITP' }),
    );

    // Assess
    expect(error.message).toContain('CertificatePem is not the certificate being registered');
  });

  it('refuses a CSR, which this engine cannot sign', () => {
    // Prepare
    const body = {
      Parameters: { CSR: { Type: 'String' } },
      Resources: { certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateSigningRequest: { Ref: 'CSR' }, Status: 'ACTIVE' } } },
    };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters: { CSR: 'csr' } }, {}, { templateType: 'JITP' }));

    // Assess
    expect(error.path).toBe('$.Resources.certificate.Properties.CertificateSigningRequest');
    expect(error.message).toContain('not supported');
  });
});

describe('hostile templates', () => {
  it('stops exponential growth through policies that join each other', () => {
    // Prepare: each policy name repeats the next one 20 times, five levels deep (20^5 copies).
    const levels = 6;
    const resources: Record<string, unknown> = {};
    for (let level = 0; level < levels; level += 1) {
      const name = level === levels - 1 ? 'seed' : { 'Fn::Join': ['', Array.from({ length: 20 }, () => ({ Ref: `p${level + 1}` }))] };
      resources[`p${level}`] = { Type: 'AWS::IoT::Policy', Properties: { PolicyName: name } };
    }

    // Act
    const error = evaluationErrorOf(() => evaluateBody({ Resources: resources }));

    // Assess
    expect(error.message).toContain(`evaluation output exceeds ${DEFAULT_EVALUATION_LIMITS.maxOutputChars} characters`);
  });

  it('stops a huge Fn::Join built from a huge parameter', () => {
    // Prepare
    const body = expressionTemplate(
      { 'Fn::Join': ['--', { 'Fn::Split': [',', { Ref: 'Csv' }] }] },
      { Parameters: { Csv: { Type: 'String' } } },
    );
    const csv = 'ab,'.repeat(60_000);

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, { parameters: { Csv: csv } }));

    // Assess
    expect(error.message).toContain('evaluation output exceeds');
  });

  it('stops at the step limit', () => {
    // Prepare
    const body = expressionTemplate({ 'Fn::Join': ['', Array.from({ length: 50 }, () => 'x')] });

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, {}, { maxSteps: 20 }));

    // Assess
    expect(error.message).toContain('evaluation exceeds 20 steps');
  });

  it('stops at the depth limit', () => {
    // Prepare
    let expression: unknown = 'x';
    for (let level = 0; level < 10; level += 1) expression = { 'Fn::Join': ['', [expression]] };
    const body = expressionTemplate(expression);

    // Act
    const error = evaluationErrorOf(() => evaluateBody(body, {}, { maxDepth: 8 }));
    const result = evaluateBody(body);

    // Assess
    expect(error.message).toContain('evaluation nests deeper than 8 levels');
    expect(result.deviceConfiguration.out).toBe('x');
  });

  it('evaluates the same parsed template for many requests independently', () => {
    // Prepare
    const template = parseTemplate(expressionTemplate({ Ref: 'Name' }, { Parameters: { Name: { Type: 'String' } } }));

    // Act
    const first = evaluateTemplate(template, { parameters: { Name: 'one' }, certificateId: 'a' });
    const second = evaluateTemplate(template, { parameters: { Name: 'two' }, certificateId: 'b' });

    // Assess
    expect([first.deviceConfiguration.out, second.deviceConfiguration.out]).toEqual(['one', 'two']);
  });
});
