import { describe, expect, it } from 'vitest';
import { parseTemplate } from '@global-iot/core/template/index.js';
import { CERTIFICATE_ID, EXAMPLE_TEMPLATES, evaluateBody, evaluationErrorOf, readExampleTemplate, readFixture, type ExampleTemplate } from './helpers.js';

const publishPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['iot:Publish'], Resource: ['arn:aws:iot:us-east-1:123456789012:topic/foo/bar'] }],
});

describe('example templates', () => {
  it.each(Object.keys(EXAMPLE_TEMPLATES) as ExampleTemplate[])('%s fits AWS limits and parses', (name) => {
    // Prepare
    const body = readExampleTemplate(name);
    const templateType = name === 'awsJitp' || name === 'awsBulkCertificateId' ? 'JITP' : 'FLEET_PROVISIONING';

    // Act
    const template = parseTemplate(body, { templateType });

    // Assess
    expect(body.length).toBeLessThanOrEqual(10_240);
    expect(Object.keys(template.Resources).length).toBeGreaterThan(0);
  });

  it('the global fleet template provisions a device with the parameters the hook supplies', () => {
    // Prepare
    const parameters = { ThingName: 'sensor-0001', Ticket: 'opaque-ticket', Region: 'ap-southeast-2', AssignedAt: '2025-03-01T10:00:00.000Z' };

    // Act
    const result = evaluateBody(readExampleTemplate('globalFleet'), { parameters });

    // Assess
    expect(result).toEqual({
      thing: { thingName: 'sensor-0001', attributePayload: { region: 'ap-southeast-2' }, thingGroups: [], overrideSettings: { attributePayload: 'MERGE' } },
      certificate: { certificateId: CERTIFICATE_ID, status: 'ACTIVE', overrideSettings: {} },
      policy: { policyName: 'GlobalFleetDevicePolicy' },
      policies: [{ policyName: 'GlobalFleetDevicePolicy' }],
      deviceConfiguration: { region: 'ap-southeast-2' },
    });
  });

  it('the global fleet template refuses a request the hook did not complete', () => {
    // Prepare: the device's own parameters, without the hook's Region and AssignedAt
    const parameters = { ThingName: 'sensor-0001', Ticket: 'opaque-ticket' };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(readExampleTemplate('globalFleet'), { parameters }));

    // Assess
    expect(error.message).toContain("missing parameter 'Region'");
  });

  it("AWS's fleet provisioning example", () => {
    // Prepare
    const parameters = { SerialNumber: '0042', DeviceLocation: 'Seattle' };

    // Act
    const result = evaluateBody(readExampleTemplate('awsFleetProvisioning'), { parameters });

    // Assess
    expect(result).toEqual({
      thing: {
        thingName: 'bulb_0042',
        attributePayload: { version: 'v1', serialNumber: '0042' },
        thingTypeName: 'ThingPrefix_0042',
        thingGroups: ['v1-lightbulbs', 'WA'],
        billingGroup: 'LightBulbBillingGroup',
        overrideSettings: { attributePayload: 'MERGE', thingTypeName: 'REPLACE', thingGroups: 'DO_NOTHING' },
      },
      certificate: { certificateId: CERTIFICATE_ID, status: 'ACTIVE', overrideSettings: {} },
      policy: { policyDocument: publishPolicy },
      policies: [{ policyDocument: publishPolicy }],
      deviceConfiguration: { FallbackUrl: 'https://www.example.com/test-site', LocationUrl: 'https://example.aws' },
    });
  });

  it("AWS's fleet provisioning example fails for a location its mapping lacks", () => {
    // Prepare
    const parameters = { SerialNumber: '0042', DeviceLocation: 'Portland' };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(readExampleTemplate('awsFleetProvisioning'), { parameters }));

    // Assess
    expect(error.path).toBe('$.DeviceConfiguration.LocationUrl["Fn::FindInMap"]');
  });

  it("AWS's JITP example reads the device certificate", () => {
    // Prepare
    const context = { certificatePem: readFixture('jitp-device.pem') };

    // Act
    const result = evaluateBody(readExampleTemplate('awsJitp'), context, {}, { templateType: 'JITP' });

    // Assess
    expect(result.thing).toEqual({
      thingName: 'lightbulb-0042',
      attributePayload: { version: 'v1', serialNumber: 'SN-0042' },
      thingTypeName: 'lightBulb-versionA',
      thingGroups: ['v1-lightbulbs', 'US'],
      overrideSettings: { attributePayload: 'MERGE', thingTypeName: 'REPLACE', thingGroups: 'DO_NOTHING' },
    });
    expect(result.certificate).toEqual({ certificateId: CERTIFICATE_ID, status: 'ACTIVE', overrideSettings: { status: 'DO_NOTHING' } });
    expect(result.policy).toEqual({ policyDocument: publishPolicy });
  });

  it("AWS's JITP example fails for a certificate without the subject fields it declares", () => {
    // Prepare
    const context = { certificatePem: readFixture('common-name-only.pem') };

    // Act
    const error = evaluationErrorOf(() => evaluateBody(readExampleTemplate('awsJitp'), context, {}, { templateType: 'JITP' }));

    // Assess
    expect(error.message).toContain('the certificate subject has no serialNumber attribute');
  });

  it("AWS's bulk registration example with a certificate id and a default location", () => {
    // Prepare
    const parameters = { ThingName: 'bulb-7', SerialNumber: '7', CertificateId: 'f'.repeat(64) };

    // Act
    const result = evaluateBody(readExampleTemplate('awsBulkCertificateId'), { parameters }, {}, { templateType: 'JITP' });

    // Assess
    expect(result.thing).toMatchObject({ thingName: 'bulb-7', thingGroups: ['v1-lightbulbs', 'WA'], overrideSettings: {} });
    expect(result.certificate).toEqual({ certificateId: 'f'.repeat(64), status: 'ACTIVE', overrideSettings: {} });
  });

  it('the JITP and bulk examples are refused as fleet provisioning templates', () => {
    // Prepare
    const body = readExampleTemplate('awsBulkCertificateId');

    // Act
    const run = () => parseTemplate(body);

    // Assess
    expect(run).toThrow('$.Resources.certificate.Properties.CertificateId: must be {"Ref": "AWS::IoT::Certificate::Id"}');
  });
});
