import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TemplateValidationError, parseTemplate, type ProvisioningTemplate } from '@global-iot/core/template/index.js';
import { TemplateEvaluationError, evaluateTemplate } from '@global-iot/local/iot/template/index.js';

/** Runs parseTemplate and reports how it ended; anything but a TemplateValidationError is a bug. */
function parseOutcome(body: unknown): 'parsed' | 'rejected' {
  try {
    parseTemplate(body);
    return 'parsed';
  } catch (error) {
    if (error instanceof TemplateValidationError) return 'rejected';
    throw error;
  }
}

/** Words that steer random JSON towards template shapes, so the fuzzing reaches deep checks. */
const keys = fc.constantFrom(
  'Parameters', 'Mappings', 'Conditions', 'Resources', 'DeviceConfiguration', 'Type', 'Default', 'Properties',
  'OverrideSettings', 'Condition', 'ThingName', 'AttributePayload', 'ThingGroups', 'ThingTypeName', 'BillingGroup',
  'CertificateId', 'Status', 'PolicyName', 'PolicyDocument', 'Ref', 'Fn::Join', 'Fn::Select', 'Fn::Split', 'Fn::Sub',
  'Fn::FindInMap', 'Fn::If', 'Fn::Equals', 'Fn::Not', 'Fn::And', 'Fn::Or', 'thing', 'P', 'C', 'M', '__proto__', 'constructor',
);
const words = fc.constantFrom(
  'String', 'AWS::IoT::Thing', 'AWS::IoT::Certificate', 'AWS::IoT::Policy', 'AWS::IoT::Certificate::Id', 'AWS::NoValue',
  'AWS::Region', 'MERGE', 'REPLACE', 'FAIL', 'DO_NOTHING', 'ACTIVE', 'thing', 'P', 'C', 'M', '${P}', '${!x}', ',', '',
);

const templateLike = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    words,
    fc.integer({ min: -2, max: 3 }),
    fc.constantFrom(null, true),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('parseTemplate on random input', () => {
  it('returns or throws TemplateValidationError for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(['parsed', 'rejected']).toContain(parseOutcome(value));
        expect(['parsed', 'rejected']).toContain(parseOutcome(JSON.stringify(value) ?? ''));
      }),
      { numRuns: 300 },
    );
  });

  it('returns or throws TemplateValidationError for any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(['parsed', 'rejected']).toContain(parseOutcome(text));
      }),
      { numRuns: 300 },
    );
  });

  it('never crashes on template-shaped input, and evaluation of what parses only throws TemplateEvaluationError', () => {
    fc.assert(
      fc.property(
        fc.dictionary(keys, templateLike, { maxKeys: 5 }),
        fc.dictionary(fc.constantFrom('P', 'thing', 'C', 'AWS::IoT::Certificate::Id'), words, { maxKeys: 3 }),
        (body, parameters) => {
          let template: ProvisioningTemplate;
          try {
            template = parseTemplate({ Resources: {}, ...body });
          } catch (error) {
            if (error instanceof TemplateValidationError) return;
            throw error;
          }
          try {
            evaluateTemplate(template, { parameters, certificateId: 'id', region: 'eu-west-1' });
          } catch (error) {
            if (!(error instanceof TemplateEvaluationError)) throw error;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('evaluates random valid Join/Sub/Select/Split expressions without crashing', () => {
    const expression = fc.letrec((tie) => ({
      string: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('a', 'b,c', ''),
        fc.constant({ Ref: 'P' }),
        fc.constant({ 'Fn::Sub': '${P}-${!P}' }),
        fc.tuple(fc.constantFrom(',', '-', ''), fc.array(tie('string'), { maxLength: 3 })).map(([delimiter, items]) => ({ 'Fn::Join': [delimiter, items] })),
        fc.tuple(fc.nat(3), tie('string')).map(([index, source]) => ({ 'Fn::Select': [index, { 'Fn::Split': [',', source] }] })),
        fc.tuple(tie('string'), tie('string')).map(([a, b]) => ({ 'Fn::If': ['C', a, b] })),
      ),
    })).string;
    fc.assert(
      fc.property(expression, fc.string({ maxLength: 20 }), (value, parameter) => {
        const template = parseTemplate({
          Parameters: { P: { Type: 'String' } },
          Conditions: { C: { 'Fn::Equals': [{ Ref: 'P' }, 'a'] } },
          Resources: {},
          DeviceConfiguration: { out: value },
        });
        try {
          const result = evaluateTemplate(template, { parameters: { P: parameter }, certificateId: 'id' });
          expect(typeof result.deviceConfiguration.out).toBe('string');
        } catch (error) {
          // An out-of-range Fn::Select is the only way these expressions can fail.
          expect(error).toBeInstanceOf(TemplateEvaluationError);
          expect((error as Error).message).toContain('out of range');
        }
      }),
      { numRuns: 300 },
    );
  });
});
