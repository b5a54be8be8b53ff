import { X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  DescribeCertificateCommand,
  type IoTClient,
  RegisterCertificateWithoutCACommand,
} from '@aws-sdk/client-iot';
import { describeError } from '@global-iot/core/errors.js';
import { OperationFailed, UsageError } from './errors.js';
import { errorName, inEachRegion } from './regional.js';

/** The shared claim certificate (public part only) as the operator gave it. */
export interface ClaimCertificate {
  readonly pem: string;
  /** AWS IoT names a certificate by the SHA-256 of its DER bytes, in lower-case hex. */
  readonly certificateId: string;
  readonly subject: string;
  readonly notAfter: string;
}

/** Refuses anything but one PEM certificate; a file holding a private key is never sent anywhere. */
export function readClaimCertificate(path: string, readFile: (path: string) => string): ClaimCertificate {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (cause) {
    throw new UsageError(`cannot read the certificate file ${path}`, { cause });
  }
  if (/PRIVATE KEY-----/.test(pem)) throw new UsageError(`${path} holds a private key; give the certificate only`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (cause) {
    throw new UsageError(`${path} is not a PEM X.509 certificate`, { cause });
  }
  return {
    pem,
    certificateId: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
    subject: certificate.subject.replace(/\n/g, ', '),
    notAfter: new Date(certificate.validTo).toISOString(),
  };
}

export interface ClaimRow {
  readonly region: string;
  readonly certificateId: string;
  /** `registered` now, `exists` already (re-runs are harmless), `would-register` on a dry run. */
  readonly registration: 'registered' | 'exists' | 'would-register' | 'error';
  /** The certificate's status in the region; anything but ACTIVE means devices cannot use it there. */
  readonly status?: string;
  readonly policy: 'attached' | 'would-attach' | 'not-requested' | 'error';
  readonly error?: string;
}

interface RegionRegistration {
  registration: ClaimRow['registration'];
  status?: string;
  certificateArn?: string;
}

interface RegionClaim extends RegionRegistration {
  policy: ClaimRow['policy'];
  policyError?: string;
}

async function describe(client: IoTClient, certificateId: string, signal: AbortSignal): Promise<{ status?: string; arn?: string } | undefined> {
  try {
    const out = await client.send(new DescribeCertificateCommand({ certificateId }), { abortSignal: signal });
    const description = out.certificateDescription;
    return {
      ...(description?.status ? { status: description.status } : {}),
      ...(description?.certificateArn ? { arn: description.certificateArn } : {}),
    };
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * Registers the claim certificate without a CA (ACTIVE) in each region, then attaches the claim
 * policy when one is named. A certificate already there is left in the status it has: an operator
 * may have deactivated or revoked it on purpose, so it is reported rather than re-activated.
 */
export async function registerClaim(
  deps: { iot: (region: string) => IoTClient; regions: readonly string[]; timeoutMs: number },
  certificate: ClaimCertificate,
  options: { policyName?: string; dryRun?: boolean } = {},
): Promise<ClaimRow[]> {
  const { certificateId } = certificate;
  const outcomes = await inEachRegion(deps.regions, deps.timeoutMs, async (region, signal): Promise<RegionClaim> => {
    const client = deps.iot(region);
    let reg: RegionRegistration;
    if (options.dryRun) {
      const existing = await describe(client, certificateId, signal);
      reg = existing ? { registration: 'exists', ...(existing.status ? { status: existing.status } : {}) } : { registration: 'would-register' };
    } else {
      try {
        const out = await client.send(new RegisterCertificateWithoutCACommand({ certificatePem: certificate.pem, status: 'ACTIVE' }), {
          abortSignal: signal,
        });
        reg = { registration: 'registered', status: 'ACTIVE', ...(out.certificateArn ? { certificateArn: out.certificateArn } : {}) };
      } catch (error) {
        if (errorName(error) !== 'ResourceAlreadyExistsException') throw error;
        const existing = await describe(client, certificateId, signal);
        reg = {
          registration: 'exists',
          ...(existing?.status ? { status: existing.status } : {}),
          ...(existing?.arn ? { certificateArn: existing.arn } : {}),
        };
      }
    }
    if (options.policyName === undefined) return { ...reg, policy: 'not-requested' };
    if (options.dryRun) return { ...reg, policy: 'would-attach' };
    if (reg.certificateArn === undefined) throw new OperationFailed('the region named no certificate ARN to attach the policy to');
    try {
      // Attaching a policy that is already attached succeeds, so re-runs are harmless.
      await client.send(new AttachPolicyCommand({ policyName: options.policyName, target: reg.certificateArn }), { abortSignal: signal });
      return { ...reg, policy: 'attached' };
    } catch (error) {
      return { ...reg, policy: 'error', policyError: describeError(error) };
    }
  });
  return outcomes.map((o): ClaimRow => {
    if (!o.ok) return { region: o.region, certificateId, registration: 'error', policy: 'error', error: o.error };
    const { registration, status, policy, policyError } = o.value;
    return {
      region: o.region,
      certificateId,
      registration,
      ...(status ? { status } : {}),
      policy,
      ...(policyError ? { error: `AttachPolicy: ${policyError}` } : {}),
    };
  });
}

/** A region where devices cannot use the claim certificate after the command. */
export function claimRowFailed(row: ClaimRow, dryRun: boolean): boolean {
  if (row.registration === 'error' || row.policy === 'error') return true;
  return !dryRun && row.status !== 'ACTIVE';
}
