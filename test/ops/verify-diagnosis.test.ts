import { GetRoleCommand, type IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import type { IoTClient } from '@aws-sdk/client-iot';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { AwsRejected, BootstrapRejected, BootstrapUnavailable, MqttConnectFailed, MqttRequestFailed, StepFailed } from '@global-iot/device/errors.js';
import { diagnoseConfirmation, diagnoseStep } from '@global-iot/ops/lib/verify/diagnosis.js';
import { provisioningRoleCheck, type RegionCheckDeps } from '@global-iot/ops/lib/verify/region-checks.js';

/**
 * verify's diagnoses, case by case, and its provisioning-role check, which on AWS asks IAM: the
 * local cloud emulates no IAM, so this check alone runs against a stand-in IAM client.
 */

const config = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1'], defaultRegion: 'us-east-1', claimClientIdPrefix: 'claim_', confirmationRuleName: 'Confirm' });

describe('diagnoseStep', () => {
  it.each([
    ['bootstrap', new BootstrapRejected(401, 'UNAUTHORIZED', 'x'), {}, /reads another registry/],
    ['bootstrap', new BootstrapUnavailable('gave up', 2, 429), {}, /throttles/],
    ['bootstrap', new BootstrapUnavailable('gave up', 2), {}, /--bootstrap-url/],
    ['connect', new MqttConnectFailed('h:8883', 'refused', undefined, 'ended'), {}, /as claim_<thing>: the claim policy's iot:Connect/],
    ['connect', new MqttConnectFailed('h:8883', 'refused', undefined, 'ended'), { claimActive: false }, /claim certificate is not usable/],
    ['connect', new MqttConnectFailed('h:8883', 'no route', undefined, 'unreachable'), { endpointHost: 'h' }, /data endpoint h does not answer/],
    ['create-certificate', new AwsRejected('CreateCertificateFromCsr', 403, 'AccessDenied', 'x'), {}, /certificates\/create-from-csr topics/],
    ['register-thing', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'x'), {}, /^RegisterThing AccessDenied with a valid ticket: the hook's permission or the provisioning role/],
    ['register-thing', new AwsRejected('RegisterThing', 403, 'AccessDenied', 'x'), { hookPermitted: false }, /cannot invoke the hook/],
    ['register-thing', new AwsRejected('RegisterThing', 403, 'TemplateDisabled', 'x'), { templateEnabled: false }, /template is disabled/],
    ['register-thing', new AwsRejected('RegisterThing', 404, 'ResourceNotFound', 'x'), {}, /does not exist here/],
    ['confirm', new MqttRequestFailed('publish refused'), {}, /\$aws\/rules\/Confirm\/provisioning\/confirm/],
    ['confirm', new MqttConnectFailed('h:8883', 'refused', undefined, 'ended'), {}, /device policy's iot:Connect/],
  ] as const)('%s failing with %s (facts %j)', (step, cause, facts, expected) => {
    // Act
    const diagnosis = diagnoseStep(step, new StepFailed(step, cause), { config, facts });

    // Assess
    expect(diagnosis).toMatch(expected);
  });

  it('names the confirmation rule when the registry never records the confirmation', () => {
    // Act
    const diagnosis = diagnoseConfirmation({ config, facts: {} });

    // Assess
    expect(diagnosis).toMatch(/^the confirmation rule Confirm or its function/);
  });
});

describe('the provisioning role check', () => {
  function deps(answer: () => Promise<unknown>): RegionCheckDeps {
    const iam = { send: (command: unknown) => (command instanceof GetRoleCommand ? answer() : Promise.reject(new Error('unexpected'))) } as unknown as IAMClient;
    return {
      region: 'us-east-1',
      config,
      iot: {} as IoTClient,
      lambda: {} as LambdaClient,
      iam,
      claimCertificateId: 'a'.repeat(64),
      claimPolicyName: 'Claim',
      claim: { certificatePem: '', privateKeyPem: '' },
      locate: (_region, host) => ({ host, port: 8883 }),
      timeoutMs: 1_000,
    };
  }
  const facts = { roleArn: 'arn:aws:iam::111111111111:role/service-role/ProvisioningRole' };
  const trust = (service: string) => ({ Role: { AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify({ Statement: [{ Principal: { Service: service } }] })) } });

  it.each([
    ['a role IoT may assume', () => Promise.resolve(trust('iot.amazonaws.com')), { outcome: 'ok', detail: 'ProvisioningRole' }],
    ['a role IoT may not assume', () => Promise.resolve(trust('lambda.amazonaws.com')), { outcome: 'failed', diagnosis: 'the role does not trust iot.amazonaws.com' }],
    ['no role', () => Promise.reject(new NoSuchEntityException({ message: 'no', $metadata: {} })), { outcome: 'failed', diagnosis: expect.stringMatching(/role was deleted/) }],
  ] as const)('with %s', async (_name, answer, expected) => {
    // Act
    const check = await provisioningRoleCheck(deps(answer), { ...facts });

    // Assess
    expect(check).toMatchObject(expected);
  });

  it('is skipped on the local cloud, which has no IAM', async () => {
    // Prepare
    const { iam: _none, ...local } = deps(() => Promise.resolve({}));

    // Act
    const check = await provisioningRoleCheck(local, { ...facts });

    // Assess
    expect(check).toMatchObject({ outcome: 'skipped', detail: 'IAM is not emulated by the local cloud' });
  });
});
