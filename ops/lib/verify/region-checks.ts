import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import {
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeProvisioningTemplateCommand,
  type DescribeProvisioningTemplateCommandOutput,
  type IoTClient,
  ListAttachedPoliciesCommand,
} from '@aws-sdk/client-iot';
import { GetPolicyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { HOOK_PAYLOAD_VERSION, parseTemplateArn } from '@global-iot/core/provisioning-params.js';
import { withAbortTimeout, withTimeout } from '@global-iot/core/timeout.js';
import { errorName, RegionTimeout } from '../regional.js';
import { type Check, CheckFailed, CheckSkipped, runCheck } from './check.js';

/**
 * What `iot-ops verify` asks each region's control plane before it sends a device through:
 * the template, its hook and the hook's permission, the provisioning role, the claim certificate
 * and its policy, and the data endpoint's TLS. Each is one check; what they learn (`RegionFacts`)
 * also sharpens the diagnosis of the device's run.
 */

export interface RegionCheckDeps {
  readonly region: string;
  readonly config: DeploymentConfig;
  readonly iot: IoTClient;
  readonly lambda: LambdaClient;
  /** Absent on the local cloud, which does not emulate IAM. */
  readonly iam?: IAMClient;
  readonly claimCertificateId: string;
  readonly claimPolicyName: string;
  readonly claim: { readonly certificatePem: string; readonly privateKeyPem: string };
  /** PEM roots for the endpoint's server certificate; the system's when absent. */
  readonly ca?: string;
  /** Where the endpoint is reached, when its name alone does not say (the local cloud's ports). */
  readonly locate: (region: string, host: string) => { host: string; port: number };
  readonly timeoutMs: number;
}

/** What the checks learnt, for the diagnosis of the device's run. */
export interface RegionFacts {
  /** The template's ARN as the region names it: its account is the deployment's. */
  templateArn?: string;
  templateEnabled?: boolean;
  hookArn?: string;
  roleArn?: string;
  hookPermitted?: boolean;
  claimActive?: boolean;
  endpointHost?: string;
}

const lambdaPolicySchema = z.object({
  Statement: z.array(
    z.looseObject({
      Effect: z.string(),
      Principal: z.union([z.string(), z.looseObject({ Service: z.union([z.string(), z.array(z.string())]).optional() })]),
      Action: z.union([z.string(), z.array(z.string())]),
      Condition: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string())]))).optional(),
    }),
  ),
});

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM's ArnLike: `*` and `?` are wildcards. */
function arnLike(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}

function call<T>(deps: RegionCheckDeps, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withAbortTimeout(run, deps.timeoutMs, () => new RegionTimeout(`no answer within ${deps.timeoutMs} ms`));
}

async function templateChecks(deps: RegionCheckDeps, facts: RegionFacts): Promise<Check[]> {
  const { templateName } = deps.config;
  let described: DescribeProvisioningTemplateCommandOutput = { $metadata: {} };
  const present = await runCheck(
    'template present',
    async () => {
      try {
        described = await call(deps, (signal) => deps.iot.send(new DescribeProvisioningTemplateCommand({ templateName }), { abortSignal: signal }));
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') {
          throw new CheckFailed(`no template ${templateName}`, `the regional stack is not deployed in ${deps.region}, or templateName differs from what it deployed`);
        }
        throw error;
      }
      if (described.provisioningRoleArn) facts.roleArn = described.provisioningRoleArn;
      if (described.templateArn) facts.templateArn = described.templateArn;
      return `${templateName} (${described.type ?? 'FLEET_PROVISIONING'})`;
    },
    () => `cannot read the template: the operator's credentials (iot:DescribeProvisioningTemplate) or the region's endpoint`,
  );
  if (present.outcome !== 'ok') return [present];
  const enabled = await runCheck(
    'template enabled',
    async () => {
      facts.templateEnabled = described.enabled === true;
      if (!facts.templateEnabled) throw new CheckFailed('disabled', 'the template is disabled: every RegisterThing is refused (UpdateProvisioningTemplate --enabled, or redeploy the regional stack)');
      return 'enabled';
    },
    () => 'unexpected',
  );
  const wired = await runCheck(
    'template wired to the hook',
    async () => {
      const hook = described.preProvisioningHook;
      if (!hook?.targetArn) throw new CheckFailed('no pre-provisioning hook', 'the template has no hook, so whoever holds the claim certificate could provision whatever thing');
      facts.hookArn = hook.targetArn;
      if (hook.payloadVersion !== undefined && hook.payloadVersion !== HOOK_PAYLOAD_VERSION) {
        throw new CheckFailed(`payload version ${hook.payloadVersion}`, `the hook expects payload version ${HOOK_PAYLOAD_VERSION}`);
      }
      return hook.targetArn;
    },
    () => 'unexpected',
  );
  return [present, enabled, wired];
}

/** The hook function's resource policy must let AWS IoT invoke it, for this template and account. */
async function hookPermissionCheck(deps: RegionCheckDeps, facts: RegionFacts): Promise<Check> {
  return runCheck(
    'hook permission',
    async () => {
      const hookArn = facts.hookArn;
      if (!hookArn) throw new CheckSkipped('no hook to check');
      let text: string | undefined;
      try {
        text = (await call(deps, (signal) => deps.lambda.send(new GetPolicyCommand({ FunctionName: hookArn }), { abortSignal: signal }))).Policy;
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException') throw error;
      }
      // The template's own ARN: the source AWS IoT invokes the hook for, in the deployment's account.
      const templateArn = facts.templateArn ?? '';
      const account = templateArn === '' ? undefined : parseTemplateArn(templateArn).accountId;
      const allows = lambdaPolicySchema.safeParse(JSON.parse(text ?? '{"Statement": []}')).data?.Statement.some((s) => {
        const service = typeof s.Principal === 'string' ? s.Principal : asList(s.Principal.Service);
        const sourceAccount = s.Condition?.['StringEquals']?.['AWS:SourceAccount'];
        const sourceArn = s.Condition?.['ArnLike']?.['AWS:SourceArn'] ?? s.Condition?.['ArnEquals']?.['AWS:SourceArn'];
        return (
          s.Effect === 'Allow' &&
          asList(service).includes('iot.amazonaws.com') &&
          asList(s.Action).some((a) => a === 'lambda:InvokeFunction' || a === 'lambda:*') &&
          (account === undefined || sourceAccount === undefined || asList(sourceAccount).includes(account)) &&
          (sourceArn === undefined || asList(sourceArn).some((pattern) => arnLike(pattern, templateArn)))
        );
      });
      facts.hookPermitted = allows === true;
      if (!facts.hookPermitted) {
        throw new CheckFailed(
          text === undefined ? 'the hook function has no resource policy' : 'no statement lets iot.amazonaws.com invoke it for this template',
          "AWS IoT cannot invoke the hook: every RegisterThing will be AccessDenied. Restore the hook's permission (redeploy the regional stack)",
        );
      }
      return 'iot.amazonaws.com may invoke it';
    },
    (error) =>
      errorName(error) === 'AccessDeniedException'
        ? "the operator's credentials may not read the hook's policy (lambda:GetPolicy)"
        : 'cannot read the hook function: it was deleted, or the template names a function in another region or account',
  );
}

/** The provisioning role exists and AWS IoT may assume it; IAM's answer on AWS, skipped locally. */
export async function provisioningRoleCheck(deps: RegionCheckDeps, facts: RegionFacts): Promise<Check> {
  return runCheck(
    'provisioning role',
    async () => {
      const roleArn = facts.roleArn;
      if (!roleArn) throw new CheckSkipped('the template names no role');
      const iam = deps.iam;
      if (!iam) throw new CheckSkipped('IAM is not emulated by the local cloud');
      const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
      let trust: string;
      try {
        const role = await call(deps, (signal) => iam.send(new GetRoleCommand({ RoleName: roleName }), { abortSignal: signal }));
        trust = decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '');
      } catch (error) {
        if (errorName(error) === 'NoSuchEntityException') {
          throw new CheckFailed(`no role ${roleName}`, 'the provisioning role was deleted: every RegisterThing will fail (redeploy the regional stack)');
        }
        throw error;
      }
      if (!trust.includes('iot.amazonaws.com')) throw new CheckFailed('AWS IoT may not assume it', 'the role does not trust iot.amazonaws.com');
      return roleName;
    },
    () => "cannot read the role: the operator's credentials (iam:GetRole)",
  );
}

/** The shared claim certificate is registered here, ACTIVE, with the claim policy attached. */
async function claimCertificateCheck(deps: RegionCheckDeps, facts: RegionFacts): Promise<Check> {
  return runCheck(
    'claim certificate',
    async () => {
      let status: string | undefined;
      let arn: string | undefined;
      try {
        const out = await call(deps, (signal) => deps.iot.send(new DescribeCertificateCommand({ certificateId: deps.claimCertificateId }), { abortSignal: signal }));
        status = out.certificateDescription?.status;
        arn = out.certificateDescription?.certificateArn;
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') {
          throw new CheckFailed('not registered here', 'register the claim certificate in this region (iot-ops claim register, or infra.claimCertificateFile)');
        }
        throw error;
      }
      facts.claimActive = status === 'ACTIVE';
      if (!facts.claimActive) throw new CheckFailed(`status ${status ?? 'unknown'}`, 'the claim certificate is not ACTIVE here: no device can start provisioning in this region');
      const attached = await call(deps, (signal) => deps.iot.send(new ListAttachedPoliciesCommand({ target: arn ?? '' }), { abortSignal: signal }));
      const names = (attached.policies ?? []).map((p) => p.policyName ?? '');
      if (!names.includes(deps.claimPolicyName)) {
        facts.claimActive = false;
        throw new CheckFailed(`ACTIVE, policies: ${names.join(', ') || 'none'}`, `attach ${deps.claimPolicyName} to the claim certificate (iot-ops claim register --policy-name)`);
      }
      return `ACTIVE with ${deps.claimPolicyName}`;
    },
    () => "cannot read the claim certificate: the operator's credentials (iot:DescribeCertificate, iot:ListAttachedPolicies)",
  );
}

/** A TLS handshake with the claim certificate, verifying the server certificate under the endpoint's name. */
function handshake(target: { host: string; port: number }, servername: string, deps: RegionCheckDeps): Promise<void> {
  const socket = tlsConnect({
    host: target.host,
    port: target.port,
    // SNI carries host names only; an endpoint that is an address is checked against the certificate's IP entries.
    ...(isIP(servername) === 0 ? { servername } : {}),
    cert: deps.claim.certificatePem,
    key: deps.claim.privateKeyPem,
    ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
  });
  const done = new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  return withTimeout(done, deps.timeoutMs, () => new RegionTimeout(`no TLS handshake within ${deps.timeoutMs} ms`)).finally(() => socket.destroy());
}

async function dataEndpointCheck(deps: RegionCheckDeps, facts: RegionFacts): Promise<Check> {
  return runCheck(
    'data endpoint TLS',
    async () => {
      const override = deps.config.endpointOverrides[deps.region];
      const host = override ?? (await call(deps, (signal) => deps.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }), { abortSignal: signal }))).endpointAddress;
      if (!host) throw new CheckFailed('DescribeEndpoint named no endpoint', 'the region answered no iot:Data-ATS endpoint');
      facts.endpointHost = host;
      const target = deps.locate(deps.region, host);
      await handshake(target, host, deps);
      return `${host}:${target.port}`;
    },
    (error) => {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (/CERT|SELF_SIGNED|HOSTNAME|ALTNAME/.test(code)) return `the endpoint's certificate is not valid for ${facts.endpointHost ?? 'its name'} under the trusted CAs (${code}): a custom domain (endpointOverrides) without its certificate, or --ca`;
      return `the endpoint ${facts.endpointHost ?? ''} does not answer TLS: DNS, network, or endpointOverrides`;
    },
  );
}

/** Every control-plane check of one region, in order. */
export async function regionChecks(deps: RegionCheckDeps): Promise<{ checks: Check[]; facts: RegionFacts }> {
  const facts: RegionFacts = {};
  const checks = await templateChecks(deps, facts);
  checks.push(await hookPermissionCheck(deps, facts));
  checks.push(await provisioningRoleCheck(deps, facts));
  checks.push(await claimCertificateCheck(deps, facts));
  checks.push(await dataEndpointCheck(deps, facts));
  return { checks, facts };
}
