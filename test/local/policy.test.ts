import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimPolicyDocument, devicePolicyDocument } from '@global-iot/core/iot-policies.js';
import { compilePolicy, InvalidPolicy, isAllowed, type PolicyContext, resourceArn } from '@global-iot/local/iot/policy.js';

/** AWS IoT policy evaluation, on its own. */

const WHERE = { region: 'us-east-1', account: '123456789012' };
const ctx = (clientId: string, thing?: PolicyContext['thing']): PolicyContext => ({ region: 'us-east-1', accountId: '123456789012', clientId, ...(thing ? { thing } : {}) });
const topic = (c: PolicyContext, name: string) => resourceArn(c, 'topic', name);
const policy = (statements: object[]) => compilePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }));

describe('isAllowed', () => {
  it('needs an Allow, and an explicit Deny wins over it', () => {
    // Prepare
    const c = ctx('dev');
    const allow = policy([{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:us-east-1:123456789012:topic/a/*' }]);
    const deny = policy([{ Effect: 'Deny', Action: 'iot:*', Resource: 'arn:aws:iot:us-east-1:123456789012:topic/a/secret' }]);

    // Act
    const results = [
      isAllowed([allow], 'iot:Publish', topic(c, 'a/b'), c),
      isAllowed([allow, deny], 'iot:Publish', topic(c, 'a/secret'), c),
      isAllowed([allow], 'iot:Receive', topic(c, 'a/b'), c),
      isAllowed([], 'iot:Publish', topic(c, 'a/b'), c),
    ];

    // Assess
    expect(results).toEqual([true, false, false, false]);
  });

  it('substitutes a policy variable literally: a client id with * is no wildcard', () => {
    // Prepare
    const p = policy([{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:us-east-1:123456789012:topic/clients/${iot:ClientId}' }]);
    const sneaky = ctx('*');

    // Act
    const own = isAllowed([p], 'iot:Publish', topic(sneaky, 'clients/*'), sneaky);
    const other = isAllowed([p], 'iot:Publish', topic(sneaky, 'clients/victim'), sneaky);

    // Assess
    expect(own).toBe(true);
    expect(other).toBe(false);
  });

  it('leaves a statement unmatched when its variable has no value', () => {
    // Prepare
    const p = compilePolicy(JSON.stringify(devicePolicyDocument(WHERE, { confirmationRuleName: 'Confirm', rotationTemplateName: 'Rotate' })));
    const unattached = ctx('dev-1');
    const attached = ctx('dev-1', { thingName: 'dev-1', attributes: {} });

    // Act
    const results = [
      isAllowed([p], 'iot:Connect', resourceArn(unattached, 'client', 'dev-1'), unattached),
      isAllowed([p], 'iot:Connect', resourceArn(attached, 'client', 'dev-1'), attached),
      isAllowed([p], 'iot:Subscribe', resourceArn(attached, 'topicfilter', 'things/dev-1/#'), attached),
      isAllowed([p], 'iot:Subscribe', resourceArn(attached, 'topicfilter', 'things/#'), attached),
    ];

    // Assess
    expect(results).toEqual([false, true, true, false]);
  });

  it('never grants on a condition it does not model, and never lifts a Deny for one', () => {
    // Prepare
    const c = ctx('dev');
    const odd = { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } };
    const allow = policy([{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*', Condition: odd }]);
    const allowAll = policy([{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }]);
    const deny = policy([{ Effect: 'Deny', Action: 'iot:Publish', Resource: '*', Condition: odd }]);

    // Act
    const granted = isAllowed([allow], 'iot:Publish', topic(c, 'x'), c);
    const denied = isAllowed([allowAll, deny], 'iot:Publish', topic(c, 'x'), c);

    // Assess
    expect(granted).toBe(false);
    expect(denied).toBe(false);
  });
});

describe('resource wildcards', () => {
  /** IAM's wildcards as a regular expression: what resources were matched with before. */
  const reference = (pattern: string, value: string, resource: string): boolean => {
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const glob = (text: string) => escape(text).replace(/\\\*/g, '.*').replace(/\\\?/g, '.');
    const [head = '', tail = ''] = pattern.split('${iot:ClientId}');
    const source = pattern.includes('${iot:ClientId}') ? `${glob(head)}${escape(value)}${glob(tail)}` : glob(pattern);
    return new RegExp(`^${source}$`).test(resource);
  };
  const text = (chars: string[], maxLength: number) => fc.array(fc.constantFrom(...chars), { maxLength }).map((a) => a.join(''));

  it('match as IAM matches them: * any run, ? any one character, a substituted value literally', () => {
    fc.assert(
      fc.property(
        text(['a', 'b', '/', '*', '?', '\n'], 8),
        fc.boolean(),
        text(['a', 'b', '/', '*', '?'], 3),
        text(['a', 'b', '/', '*', '?', '\n'], 10),
        (patternText, withVariable, clientId, name) => {
          const pattern = withVariable ? `topic/${patternText.slice(0, 4)}\${iot:ClientId}${patternText.slice(4)}` : `topic/${patternText}`;
          const c = ctx(clientId);
          const p = policy([{ Effect: 'Allow', Action: 'iot:Publish', Resource: `arn:aws:iot:us-east-1:123456789012:${pattern}` }]);
          const resource = topic(c, name);
          expect(isAllowed([p], 'iot:Publish', resource, c)).toBe(reference(`arn:aws:iot:us-east-1:123456789012:${pattern}`, clientId, resource));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('iot:ConnectAttributes', () => {
  const connect = (attributes: ('LastWill' | 'PersistentConnect')[]) => ({ ...ctx('dev'), connectAttributes: attributes });
  const onlyPersistent = policy([
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] } },
    },
  ]);
  const noWill = policy([
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    { Effect: 'Deny', Action: 'iot:Connect', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] } } },
  ]);

  it.each([
    [[], true],
    [['PersistentConnect'], true],
    [['LastWill'], false],
    [['PersistentConnect', 'LastWill'], false],
  ] as const)('ForAllValues:StringEquals [PersistentConnect] with %j: %s', (attributes, expected) => {
    // Prepare
    const c = connect([...attributes]);

    // Act
    const granted = isAllowed([onlyPersistent], 'iot:Connect', resourceArn(c, 'client', 'dev'), c);

    // Assess
    expect(granted).toBe(expected);
  });

  it.each([
    [[], true],
    [['PersistentConnect'], true],
    [['LastWill'], false],
  ] as const)('ForAnyValue:StringEquals [LastWill] in a Deny with %j: allowed %s', (attributes, expected) => {
    // Prepare
    const c = connect([...attributes]);

    // Act
    const granted = isAllowed([noWill], 'iot:Connect', resourceArn(c, 'client', 'dev'), c);

    // Assess
    expect(granted).toBe(expected);
  });
});

describe('compilePolicy', () => {
  it.each([
    ['text that is not JSON', '{'],
    ['a statement without an effect', JSON.stringify({ Statement: [{ Action: 'iot:*', Resource: '*' }] })],
    ['a document over 2,048 characters', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: 'x'.repeat(2100) }] })],
  ])('refuses %s', (_label, document) => {
    // Act
    const attempt = () => compilePolicy(document);

    // Assess
    expect(attempt).toThrow(InvalidPolicy);
  });
});

describe('the claim policy infra deploys', () => {
  it('lets the claim certificate connect under the prefix only, with a JSON boolean condition in the device policy read as AWS reads it', () => {
    // Prepare
    const claim = compilePolicy(JSON.stringify(claimPolicyDocument(WHERE, { templateName: 'T', clientIdPrefix: 'prov-', legacyClientIds: false })));
    const legacy = compilePolicy(JSON.stringify(claimPolicyDocument(WHERE, { templateName: 'T', clientIdPrefix: 'prov-', legacyClientIds: true })));
    const connect = (p: typeof claim, clientId: string) => isAllowed([p], 'iot:Connect', resourceArn(ctx(clientId), 'client', clientId), ctx(clientId));

    // Act
    const results = [connect(claim, 'prov-sensor-1'), connect(claim, 'sensor-1'), connect(claim, 'PROV-sensor-1'), connect(legacy, 'sensor-1')];

    // Assess
    expect(results).toEqual([true, false, false, true]);
  });
});

describe('the rotation template in the policies infra deploys', () => {
  it("lets a device use the rotation template's fleet-provisioning topics, and the claim certificate not", () => {
    // Prepare
    const device = compilePolicy(JSON.stringify(devicePolicyDocument(WHERE, { confirmationRuleName: 'Confirm', rotationTemplateName: 'Rotate' })));
    const claim = compilePolicy(JSON.stringify(claimPolicyDocument(WHERE, { templateName: 'T', clientIdPrefix: 'prov-', legacyClientIds: false })));
    const dev = ctx('dev-1', { thingName: 'dev-1', attributes: {} });
    const factory = ctx('prov-dev-1');
    const can = (p: typeof device, c: PolicyContext, action: Parameters<typeof isAllowed>[1], kind: 'topic' | 'topicfilter', name: string) => isAllowed([p], action, resourceArn(c, kind, name), c);

    // Act
    const results = {
      deviceRotates: can(device, dev, 'iot:Publish', 'topic', '$aws/provisioning-templates/Rotate/provision/json'),
      deviceHearsAnswer: can(device, dev, 'iot:Subscribe', 'topicfilter', '$aws/provisioning-templates/Rotate/provision/json/accepted'),
      deviceCsr: can(device, dev, 'iot:Publish', 'topic', '$aws/certificates/create-from-csr/json'),
      deviceProductTemplate: can(device, dev, 'iot:Publish', 'topic', '$aws/provisioning-templates/T/provision/json'),
      claimRotates: can(claim, factory, 'iot:Publish', 'topic', '$aws/provisioning-templates/Rotate/provision/json'),
      claimSubscribes: can(claim, factory, 'iot:Subscribe', 'topicfilter', '$aws/provisioning-templates/Rotate/provision/json/accepted'),
    };

    // Assess
    expect(results).toEqual({ deviceRotates: true, deviceHearsAnswer: true, deviceCsr: true, deviceProductTemplate: false, claimRotates: false, claimSubscribes: false });
  });
});
