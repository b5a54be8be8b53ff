import { DeleteThingCommand, type IoTClient } from '@aws-sdk/client-iot';
import { DeleteThingShadowCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { DeviceRecord, DeviceRegistry } from '../registry/index.js';
import { type CertificateStep, errorName, revokeCertificates, step } from './certificates.js';

/**
 * What a completed move or rotation leaves to undo in AWS IoT, run from the record's
 * `cleanup_pending` (core/registry/lifecycle.ts): `retire/<region>` (the region a device left:
 * every certificate of the thing there revoked and detached, the thing and its classic shadow
 * deleted) and `keep/<region>/<certificate>` (every other certificate of the thing there revoked:
 * the old one after a rotation, strays of retried attempts). Each entry is removed from the
 * record once all of its steps are done; one that failed stays, and the next run retries it.
 */

export interface RetireDeps {
  readonly registry: DeviceRegistry;
  readonly iot: (region: string) => IoTClient;
  readonly shadows: (region: string) => IoTDataPlaneClient;
  /** Waits between tries of a deletion AWS refuses while a detachment is still spreading. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type CleanupRef = { kind: 'retire'; region: string } | { kind: 'keep'; region: string; certificateId: string };

export function parseCleanupRef(ref: string): CleanupRef | undefined {
  const retire = /^retire\/([a-z]{2}(?:-[a-z]+)+-\d)$/.exec(ref);
  if (retire?.[1]) return { kind: 'retire', region: retire[1] };
  const keep = /^keep\/([a-z]{2}(?:-[a-z]+)+-\d)\/([0-9a-f]{64})$/.exec(ref);
  if (keep?.[1] && keep[2]) return { kind: 'keep', region: keep[1], certificateId: keep[2] };
  return undefined;
}

/** DetachThingPrincipal is eventually consistent on AWS: DeleteThing right after it may be refused a moment. */
const DELETE_TRIES = 5;
const DELETE_RETRY_MS = 1_000;

async function deleteThing(deps: RetireDeps, region: string, thingName: string): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      // AWS answers success for a thing that does not exist.
      await deps.iot(region).send(new DeleteThingCommand({ thingName }));
      return;
    } catch (error) {
      if (errorName(error) !== 'InvalidRequestException' || attempt >= DELETE_TRIES) throw error;
      await sleep(DELETE_RETRY_MS * attempt);
    }
  }
}

async function deleteShadow(deps: RetireDeps, region: string, thingName: string): Promise<void> {
  try {
    await deps.shadows(region).send(new DeleteThingShadowCommand({ thingName }));
  } catch (error) {
    if (errorName(error) !== 'ResourceNotFoundException') throw error;
  }
}

/** The steps of one entry. */
async function runRef(deps: RetireDeps, thingName: string, ref: CleanupRef): Promise<CertificateStep[]> {
  const change = { client: deps.iot(ref.region), region: ref.region, dryRun: false };
  const steps = await revokeCertificates(change, thingName, ref.kind === 'keep' ? ref.certificateId : undefined);
  if (ref.kind === 'keep' || steps.some((s) => s.outcome === 'failed')) return steps;
  steps.push(await step({ action: 'delete-thing', region: ref.region, detail: thingName }, false, () => deleteThing(deps, ref.region, thingName)));
  steps.push(await step({ action: 'delete-shadow', region: ref.region, detail: thingName }, false, () => deleteShadow(deps, ref.region, thingName)));
  return steps;
}

export interface CleanupReport {
  readonly thingName: string;
  /** The entries done (and removed from the record). */
  readonly done: readonly string[];
  /** The entries still pending, after a failed step or an unreadable entry. */
  readonly left: readonly string[];
  readonly steps: readonly CertificateStep[];
}

/** Runs every pending entry of the record; never throws for a failed step (the report says). */
export async function runCleanup(deps: RetireDeps, record: Pick<DeviceRecord, 'thing_name' | 'cleanup_pending'>): Promise<CleanupReport> {
  const done: string[] = [];
  const left: string[] = [];
  const steps: CertificateStep[] = [];
  for (const ref of record.cleanup_pending ?? []) {
    const parsed = parseCleanupRef(ref);
    if (!parsed) {
      left.push(ref);
      continue;
    }
    let refSteps: CertificateStep[];
    try {
      refSteps = await runRef(deps, record.thing_name, parsed);
    } catch (error) {
      // Listing the thing's certificates failed: nothing of this entry was done.
      refSteps = [{ action: 'revoke', region: parsed.region, outcome: 'failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }];
    }
    steps.push(...refSteps);
    (refSteps.some((s) => s.outcome === 'failed') ? left : done).push(ref);
  }
  if (done.length > 0) await deps.registry.cleanupDone(record.thing_name, done);
  return { thingName: record.thing_name, done, left, steps };
}
