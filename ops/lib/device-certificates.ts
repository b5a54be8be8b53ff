import {
  DescribeCertificateCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { describeError } from '@global-iot/core/errors.js';
import { errorName } from './regional.js';

/**
 * A device's certificates in one region, and what block, unblock and `reset --revoke` do to
 * them. Each change is one step of the report; a step that fails is reported and the others go
 * on, so one bad certificate never hides what happened to the rest.
 */

export type StepAction = 'registry' | 'deactivate' | 'reactivate' | 'revoke' | 'detach-policy' | 'detach-thing';
/** `would`: a dry run's plan; `unchanged`: nothing to do (already so). */
export type StepOutcome = 'done' | 'would' | 'unchanged' | 'failed';

export interface LifecycleStep {
  readonly action: StepAction;
  readonly outcome: StepOutcome;
  readonly region?: string;
  readonly certificateId?: string;
  /** What the step was about (a policy name, a status change) or why nothing was done. */
  readonly detail?: string;
  readonly error?: string;
}

export interface DeviceCertificate {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly status: string;
}

/** How a certificate is named in the registry's `blocked_certificates`. */
export function certificateRef(region: string, certificateId: string): string {
  return `${region}/${certificateId}`;
}

export function parseCertificateRef(ref: string): { region: string; certificateId: string } | undefined {
  const match = /^([a-z]{2}(?:-[a-z]+)+-\d)\/([0-9a-f]{64})$/.exec(ref);
  return match?.[1] && match[2] ? { region: match[1], certificateId: match[2] } : undefined;
}

const CERTIFICATE_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:cert\/([0-9a-f]{64})$/;

/** The certificates attached to the thing in this region; none when the thing is not there. */
export async function thingCertificates(client: IoTClient, thingName: string, signal: AbortSignal): Promise<DeviceCertificate[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(new ListThingPrincipalsCommand({ thingName, nextToken }), { abortSignal: signal });
      arns.push(...(page.principals ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return [];
    throw error;
  }
  const certificates: DeviceCertificate[] = [];
  for (const arn of arns) {
    // Other principals (Cognito identities) have no certificate to change.
    const certificateId = CERTIFICATE_ARN.exec(arn)?.[1];
    if (certificateId === undefined) continue;
    const out = await client.send(new DescribeCertificateCommand({ certificateId }), { abortSignal: signal });
    certificates.push({ certificateId, certificateArn: arn, status: out.certificateDescription?.status ?? 'UNKNOWN' });
  }
  return certificates;
}

/** Runs one change unless it is a dry run, as a step of the report. */
async function step(
  base: Omit<LifecycleStep, 'outcome' | 'error'>,
  dryRun: boolean,
  change: () => Promise<unknown>,
): Promise<LifecycleStep> {
  if (dryRun) return { ...base, outcome: 'would' };
  try {
    await change();
    return { ...base, outcome: 'done' };
  } catch (error) {
    return { ...base, outcome: 'failed', error: describeError(error) };
  }
}

export interface RegionChange {
  readonly client: IoTClient;
  readonly region: string;
  readonly dryRun: boolean;
  readonly signal: AbortSignal;
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

/**
 * `reset --revoke`: each certificate of the thing REVOKED (for good: AWS never lets a revoked
 * certificate connect again), its policies detached, and it detached from the thing, so that the
 * thing is free for the new board's certificate. A certificate whose revocation failed keeps its
 * attachments, so that running the command again finds it.
 */
export async function revokeCertificates(c: RegionChange, thingName: string): Promise<LifecycleStep[]> {
  const steps: LifecycleStep[] = [];
  for (const certificate of await thingCertificates(c.client, thingName, c.signal)) {
    const base = { region: c.region, certificateId: certificate.certificateId } as const;
    const revoke =
      certificate.status === 'REVOKED'
        ? ({ ...base, action: 'revoke', outcome: 'unchanged', detail: 'already REVOKED' } as const)
        : await step({ ...base, action: 'revoke', detail: `${certificate.status} -> REVOKED` }, c.dryRun, () =>
            c.client.send(new UpdateCertificateCommand({ certificateId: certificate.certificateId, newStatus: 'REVOKED' }), { abortSignal: c.signal }),
          );
    steps.push(revoke);
    if (revoke.outcome === 'failed') continue;
    const attached = await c.client.send(new ListAttachedPoliciesCommand({ target: certificate.certificateArn }), { abortSignal: c.signal });
    for (const policy of attached.policies ?? []) {
      const policyName = policy.policyName ?? '';
      steps.push(
        await step({ ...base, action: 'detach-policy', detail: policyName }, c.dryRun, () =>
          c.client.send(new DetachPolicyCommand({ policyName, target: certificate.certificateArn }), { abortSignal: c.signal }),
        ),
      );
    }
    steps.push(
      await step({ ...base, action: 'detach-thing', detail: thingName }, c.dryRun, () =>
        c.client.send(new DetachThingPrincipalCommand({ thingName, principal: certificate.certificateArn }), { abortSignal: c.signal }),
      ),
    );
  }
  return steps;
}
