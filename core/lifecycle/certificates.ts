import {
  DescribeCertificateCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { describeError } from '../errors.js';

/**
 * A thing's certificates in one region, and retiring them: revoked for good (AWS never lets a
 * revoked certificate connect again), their policies detached, and detached from the thing, so
 * that the thing can be deleted or keeps only its new certificate. Each change is one step of a
 * report; a step that fails is reported and the others go on. `iot-ops reset --revoke`, and the
 * clean-up after a move or a rotation (retire.ts), share it.
 */

/** `would`: a dry run's plan; `unchanged`: nothing to do (already so). */
export type StepOutcome = 'done' | 'would' | 'unchanged' | 'failed';

/** One change of a report, named by its action. */
export interface Step<A extends string> {
  readonly action: A;
  readonly outcome: StepOutcome;
  readonly region?: string;
  readonly certificateId?: string;
  /** What the step was about (a policy name, a status change) or why nothing was done. */
  readonly detail?: string;
  readonly error?: string;
}

export type CertificateStep = Step<'revoke' | 'detach-policy' | 'detach-thing' | 'delete-thing' | 'delete-shadow'>;

export interface DeviceCertificate {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly status: string;
}

export interface RegionChange {
  readonly client: IoTClient;
  readonly region: string;
  readonly dryRun: boolean;
  readonly signal?: AbortSignal;
}

/** The error name of an SDK exception, so callers can tell "absent" from "unreachable". */
export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

const CERTIFICATE_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:cert\/([0-9a-f]{64})$/;

/** The certificates attached to the thing in this region; none when the thing is not there. */
export async function thingCertificates(client: IoTClient, thingName: string, signal?: AbortSignal): Promise<DeviceCertificate[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  const options = signal ? { abortSignal: signal } : {};
  try {
    do {
      const page = await client.send(new ListThingPrincipalsCommand({ thingName, nextToken }), options);
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
    const out = await client.send(new DescribeCertificateCommand({ certificateId }), options);
    certificates.push({ certificateId, certificateArn: arn, status: out.certificateDescription?.status ?? 'UNKNOWN' });
  }
  return certificates;
}

/** Runs one change unless it is a dry run, as a step of the report. */
export async function step<A extends string>(base: Omit<Step<A>, 'outcome' | 'error'>, dryRun: boolean, change: () => Promise<unknown>): Promise<Step<A>> {
  if (dryRun) return { ...base, outcome: 'would' };
  try {
    await change();
    return { ...base, outcome: 'done' };
  } catch (error) {
    return { ...base, outcome: 'failed', error: describeError(error) };
  }
}

/**
 * Every certificate of the thing in the region but `keep`: REVOKED, its policies detached, and
 * detached from the thing. A certificate whose revocation failed keeps its attachments, so that
 * running it again finds it.
 */
export async function revokeCertificates(c: RegionChange, thingName: string, keep?: string): Promise<CertificateStep[]> {
  const steps: CertificateStep[] = [];
  const options = c.signal ? { abortSignal: c.signal } : {};
  for (const certificate of await thingCertificates(c.client, thingName, c.signal)) {
    if (certificate.certificateId === keep) continue;
    const base = { region: c.region, certificateId: certificate.certificateId } as const;
    const revoke =
      certificate.status === 'REVOKED'
        ? ({ ...base, action: 'revoke', outcome: 'unchanged', detail: 'already REVOKED' } as const)
        : await step({ ...base, action: 'revoke', detail: `${certificate.status} -> REVOKED` }, c.dryRun, () =>
            c.client.send(new UpdateCertificateCommand({ certificateId: certificate.certificateId, newStatus: 'REVOKED' }), options),
          );
    steps.push(revoke);
    if (revoke.outcome === 'failed') continue;
    const attached = await c.client.send(new ListAttachedPoliciesCommand({ target: certificate.certificateArn }), options);
    for (const policy of attached.policies ?? []) {
      const policyName = policy.policyName ?? '';
      steps.push(
        await step({ ...base, action: 'detach-policy', detail: policyName }, c.dryRun, () =>
          c.client.send(new DetachPolicyCommand({ policyName, target: certificate.certificateArn }), options),
        ),
      );
    }
    steps.push(
      await step({ ...base, action: 'detach-thing', detail: thingName }, c.dryRun, () =>
        c.client.send(new DetachThingPrincipalCommand({ thingName, principal: certificate.certificateArn }), options),
      ),
    );
  }
  return steps;
}
