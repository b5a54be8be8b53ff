import { DescribeCertificateCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { type CertificateStep, type RegionChange, type Step, step, thingCertificates } from '@global-iot/core/lifecycle/certificates.js';
import { describeError } from '@global-iot/core/errors.js';
import { errorName } from './regional.js';

/**
 * A device's certificates in one region, and what block, unblock and `reset --revoke` do to
 * them. Each change is one step of the report; a step that fails is reported and the others go
 * on, so one bad certificate never hides what happened to the rest.
 */

/** `would`: a dry run's plan; `unchanged`: nothing to do (already so). */
export type { StepOutcome, DeviceCertificate, RegionChange } from '@global-iot/core/lifecycle/certificates.js';
export { revokeCertificates, thingCertificates } from '@global-iot/core/lifecycle/certificates.js';

export type StepAction = 'registry' | 'deactivate' | 'reactivate' | CertificateStep['action'];

export type LifecycleStep = Step<StepAction>;

/** How a certificate is named in the registry's `blocked_certificates`. */
export function certificateRef(region: string, certificateId: string): string {
  return `${region}/${certificateId}`;
}

export function parseCertificateRef(ref: string): { region: string; certificateId: string } | undefined {
  const match = /^([a-z]{2}(?:-[a-z]+)+-\d)\/([0-9a-f]{64})$/.exec(ref);
  return match?.[1] && match[2] ? { region: match[1], certificateId: match[2] } : undefined;
}

/**
 * Block: every ACTIVE certificate of the thing INACTIVE. AWS IoT then closes the connections that
 * used it (within a few minutes, says UpdateCertificate's reference) and refuses it until it is
 * ACTIVE again.
 */
export async function deactivateCertificates(c: RegionChange, thingName: string): Promise<LifecycleStep[]> {
  const steps: LifecycleStep[] = [];
  for (const certificate of await thingCertificates(c.client, thingName, c.signal)) {
    const base = { action: 'deactivate', region: c.region, certificateId: certificate.certificateId } as const;
    if (certificate.status !== 'ACTIVE') {
      steps.push({ ...base, outcome: 'unchanged', detail: `already ${certificate.status}` });
      continue;
    }
    const update = new UpdateCertificateCommand({ certificateId: certificate.certificateId, newStatus: 'INACTIVE' });
    steps.push(await step({ ...base, detail: 'ACTIVE -> INACTIVE' }, c.dryRun, () => c.client.send(update, { abortSignal: c.signal })));
  }
  return steps;
}

/**
 * Unblock: the certificates the block deactivated back to ACTIVE. A certificate revoked since (a
 * board replaced) or deleted stays as it is: it is reported, not counted as a failure.
 */
export async function reactivateCertificates(c: RegionChange, certificateIds: readonly string[]): Promise<LifecycleStep[]> {
  const steps: LifecycleStep[] = [];
  for (const certificateId of certificateIds) {
    const base = { action: 'reactivate', region: c.region, certificateId } as const;
    let status: string;
    try {
      const out = await c.client.send(new DescribeCertificateCommand({ certificateId }), { abortSignal: c.signal });
      status = out.certificateDescription?.status ?? 'UNKNOWN';
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') steps.push({ ...base, outcome: 'unchanged', detail: 'deleted since the block' });
      else steps.push({ ...base, outcome: 'failed', error: describeError(error) });
      continue;
    }
    if (status !== 'INACTIVE') {
      steps.push({ ...base, outcome: 'unchanged', detail: status === 'ACTIVE' ? 'already ACTIVE' : `${status}: left as it is` });
      continue;
    }
    const update = new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' });
    steps.push(await step({ ...base, detail: 'INACTIVE -> ACTIVE' }, c.dryRun, () => c.client.send(update, { abortSignal: c.signal })));
  }
  return steps;
}
