import { describe, expect, it } from 'vitest';
import {
  ASSIGNED_AT_PARAM,
  hookEventSchema,
  InvalidTemplateArn,
  parseTemplateArn,
  provisioningTemplateArn,
  REGION_PARAM,
  regionFromTemplateArn,
  THING_NAME_PARAM,
  TICKET_PARAM,
} from '@global-iot/core/provisioning-params.js';
import { confirmationEventSchema } from '@global-iot/core/confirmation.js';
import { readFixture } from './helpers.js';

describe('template parameter names', () => {
  it('are the names templates and devices use', () => {
    expect([THING_NAME_PARAM, TICKET_PARAM, REGION_PARAM, ASSIGNED_AT_PARAM]).toEqual(['ThingName', 'Ticket', 'Region', 'AssignedAt']);
  });
});

describe('template ARNs', () => {
  it('give the region of the template, including the ARN of AWS documentation and other partitions', () => {
    expect(regionFromTemplateArn('arn:aws:iot:us-east-1:1234567890:provisioningtemplate/MyTemplate')).toBe('us-east-1');
    expect(regionFromTemplateArn('arn:aws:iot:ap-southeast-2:123456789012:provisioningtemplate/Global_Fleet-1')).toBe('ap-southeast-2');
    expect(parseTemplateArn('arn:aws-cn:iot:cn-north-1:123456789012:provisioningtemplate/T')).toEqual({
      partition: 'aws-cn',
      region: 'cn-north-1',
      accountId: '123456789012',
      templateName: 'T',
    });
  });

  it('round-trip through the builder', () => {
    const arn = provisioningTemplateArn({ region: 'eu-west-1', accountId: '123456789012', templateName: 'GlobalFleetProvisioning' });
    expect(arn).toBe('arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/GlobalFleetProvisioning');
    expect(regionFromTemplateArn(arn)).toBe('eu-west-1');
  });

  it.each([
    ['another service', 'arn:aws:s3:us-east-1:123456789012:provisioningtemplate/T'],
    ['another resource type', 'arn:aws:iot:us-east-1:123456789012:thing/T'],
    ['no template name', 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/'],
    ['a template name of 37 characters', `arn:aws:iot:us-east-1:123456789012:provisioningtemplate/${'a'.repeat(37)}`],
    ['a template name with a slash', 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/a/b'],
    ['a region that is no region code', 'arn:aws:iot:US-EAST-1:123456789012:provisioningtemplate/T'],
    ['an account that is not digits', 'arn:aws:iot:us-east-1:account:provisioningtemplate/T'],
    ['an empty string', ''],
  ])('refuse %s', (_name, arn) => {
    expect(() => regionFromTemplateArn(arn)).toThrow(InvalidTemplateArn);
  });

  it('the builder refuses a template name AWS would refuse', () => {
    expect(() => provisioningTemplateArn({ region: 'eu-west-1', accountId: '123456789012', templateName: 'bad name' })).toThrow(InvalidTemplateArn);
  });
});

describe('event schemas', () => {
  it('accept the events shaped as AWS documents them, dropping fields they do not know', () => {
    const hook = readFixture('aws-pre-provisioning-hook-event.json') as Record<string, unknown>;
    const confirmation = readFixture('confirmation-rule-event.json') as Record<string, unknown>;
    expect(hookEventSchema.parse({ ...hook, addedLater: 1 })).toEqual(hook);
    expect(confirmationEventSchema.parse({ ...confirmation, addedLater: 1 })).toEqual(confirmation);
  });
});
