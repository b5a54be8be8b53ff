import type { IoTClient } from '@aws-sdk/client-iot';
import { ConditionFailed, describeError } from '@global-iot/core/errors.js';
import type { DeviceRecord, DeviceRegistry, ProvStatus } from '@global-iot/core/registry/index.js';
import { NAME_RULES } from '@global-iot/core/template/aws-names.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';
import {
  certificateRef,
  deactivateCertificates,
  type LifecycleStep,
  parseCertificateRef,
  reactivateCertificates,
  type RegionChange,
  revokeCertificates,
  type StepAction,
} from './device-certificates.js';
import { OperationFailed, UsageError } from './errors.js';
import { inEachRegion } from './regional.js';

/**
 * `block`, `unblock` and `reset`: the registry change and what it means for the device's
 * certificates in AWS IoT, step by step. Block bites: the registry refuses the device, and its
 * certificates go INACTIVE in every region, which closes its open connections. Unblock undoes
 * exactly what the block did. `reset --revoke` (board replaced) revokes and detaches the old
 * certificates first, so that the thing can be provisioned again with a new one.
 */

export type LifecycleAction = 'block' | 'unblock' | 'reset';

export interface LifecycleDeps {
  readonly registry: DeviceRegistry;
  readonly iot: (region: string) => IoTClient;
  /** The enabled regions: where the device may have a thing and certificates. */
  readonly regions: readonly string[];
  /** Budget for each region's calls. */
  readonly timeoutMs: number;
}

export interface LifecycleReport {
  readonly thingName: string;
  readonly action: LifecycleAction;
  readonly from: ProvStatus;
  /** The status the device ends in (or would, on a dry run; or stays in, when a step failed). */
  readonly to: ProvStatus;
  readonly dryRun: boolean;
  /** Every step, in order: the registry's and each certificate's. */
  readonly steps: LifecycleStep[];
  /** The record after the change (absent on a dry run and when the registry was not written). */
  readonly record?: DeviceRecord;
}

async function requireRecord(registry: DeviceRegistry, thingName: string): Promise<DeviceRecord> {
  if (!isValidThingName(thingName)) throw new UsageError(`"${thingName}" is not a thing name (${NAME_RULES.thingName.rule})`);
  const record = await registry.get(thingName);
  if (!record) throw new OperationFailed(`thing ${thingName} is not enrolled`);
  return record;
}

/** Runs a certificate change in each region at once; a region that fails is one failed step. */
async function inRegions(
  deps: LifecycleDeps,
  regions: readonly string[],
  dryRun: boolean,
  action: StepAction,
  work: (change: RegionChange) => Promise<LifecycleStep[]>,
): Promise<LifecycleStep[]> {
  const outcomes = await inEachRegion(regions, deps.timeoutMs, (region, signal) => work({ client: deps.iot(region), region, dryRun, signal }));
  return outcomes.flatMap((o) => (o.ok ? o.value : [{ action, region: o.region, outcome: 'failed' as const, error: o.error }]));
}

/** The registry write, as a step; a lost condition means someone changed the device meanwhile. */
async function registryStep(detail: string, dryRun: boolean, write: () => Promise<DeviceRecord>): Promise<{ step: LifecycleStep; record?: DeviceRecord }> {
  if (dryRun) return { step: { action: 'registry', outcome: 'would', detail } };
  try {
    return { step: { action: 'registry', outcome: 'done', detail }, record: await write() };
  } catch (error) {
    if (error instanceof ConditionFailed) {
      throw new OperationFailed(`the device changed while it was being updated; check its status and retry`, { cause: error });
    }
    throw error;
  }
}

const withRecordRegion = (regions: readonly string[], record: DeviceRecord): string[] =>
  [...new Set([...regions, ...(record.aws_region ? [record.aws_region] : [])])];

export async function blockDevice(deps: LifecycleDeps, thingName: string, reason: string, dryRun: boolean): Promise<LifecycleReport> {
  const current = await requireRecord(deps.registry, thingName);
  // The registry first: from this moment the bootstrap and the hook refuse the device.
  const registry = await registryStep(`${current.prov_status} -> blocked`, dryRun, () => deps.registry.block(thingName, reason));
  const certificates = await inRegions(deps, withRecordRegion(deps.regions, current), dryRun, 'deactivate', (c) => deactivateCertificates(c, thingName));
  const steps = [registry.step, ...certificates];
  const deactivated = certificates.filter((s) => s.outcome === 'done' && s.region && s.certificateId).map((s) => certificateRef(s.region ?? '', s.certificateId ?? ''));
  if (deactivated.length > 0) {
    try {
      await deps.registry.recordBlockedCertificates(thingName, deactivated);
      steps.push({ action: 'registry', outcome: 'done', detail: `${deactivated.length} certificate(s) recorded for unblock` });
    } catch (error) {
      steps.push({ action: 'registry', outcome: 'failed', detail: 'recording the certificates for unblock', error: describeError(error) });
    }
  }
  return { thingName, action: 'block', from: current.prov_status, to: 'blocked', dryRun, steps, ...(registry.record ? { record: registry.record } : {}) };
}

/**
 * Where an unblocked device goes: back to `provisioned` (or `provisioning`) when its certificate
 * is active again, so that it just reconnects; otherwise `unprovisioned`, to bootstrap again.
 */
function unblockTarget(record: DeviceRecord, reactivated: ReadonlySet<string>): 'unprovisioned' | 'provisioning' | 'provisioned' {
  const from = record.blocked_from;
  if ((from === 'provisioned' || from === 'provisioning') && record.aws_region && record.certificate_id) {
    if (reactivated.has(certificateRef(record.aws_region, record.certificate_id))) return from;
  }
  return 'unprovisioned';
}

export async function unblockDevice(deps: LifecycleDeps, thingName: string, reason: string, dryRun: boolean): Promise<LifecycleReport> {
  const current = await requireRecord(deps.registry, thingName);
  if (current.prov_status !== 'blocked') throw new OperationFailed(`thing ${thingName} is not blocked (status ${current.prov_status})`);
  const byRegion = new Map<string, string[]>();
  for (const ref of current.blocked_certificates ?? []) {
    const parsed = parseCertificateRef(ref);
    if (parsed) byRegion.set(parsed.region, [...(byRegion.get(parsed.region) ?? []), parsed.certificateId]);
  }
  // Certificates first: until every one is back, the device stays blocked and a re-run retries.
  const certificates = await inRegions(deps, [...byRegion.keys()], dryRun, 'reactivate', (c) => reactivateCertificates(c, byRegion.get(c.region) ?? []));
  const active = new Set(
    certificates
      .filter((s) => s.outcome === 'done' || s.outcome === 'would' || s.detail === 'already ACTIVE')
      .map((s) => certificateRef(s.region ?? '', s.certificateId ?? '')),
  );
  const to = unblockTarget(current, active);
  if (certificates.some((s) => s.outcome === 'failed')) {
    const stays: LifecycleStep = { action: 'registry', outcome: 'unchanged', detail: 'stays blocked until every certificate is reactivated: run unblock again' };
    return { thingName, action: 'unblock', from: 'blocked', to: 'blocked', dryRun, steps: [...certificates, stays] };
  }
  const registry = await registryStep(`blocked -> ${to}`, dryRun, () => deps.registry.unblock(thingName, reason, to));
  return { thingName, action: 'unblock', from: 'blocked', to, dryRun, steps: [...certificates, registry.step], ...(registry.record ? { record: registry.record } : {}) };
}

export async function resetDevice(
  deps: LifecycleDeps,
  thingName: string,
  reason: string,
  options: { dryRun: boolean; revoke: boolean },
): Promise<LifecycleReport> {
  const { dryRun, revoke } = options;
  const current = await requireRecord(deps.registry, thingName);
  if (current.prov_status === 'blocked' && !revoke) {
    throw new OperationFailed(`thing ${thingName} is blocked; use unblock to release it, or reset --revoke to replace its board`);
  }
  // The old certificates go first: the thing is free for a new one only once the old board is out.
  const certificates = revoke ? await inRegions(deps, withRecordRegion(deps.regions, current), dryRun, 'revoke', (c) => revokeCertificates(c, thingName)) : [];
  if (certificates.some((s) => s.outcome === 'failed')) {
    const stays: LifecycleStep = { action: 'registry', outcome: 'unchanged', detail: 'not reset: the old certificates are not all revoked; run reset --revoke again' };
    return { thingName, action: 'reset', from: current.prov_status, to: current.prov_status, dryRun, steps: [...certificates, stays] };
  }
  const registry = await registryStep(`${current.prov_status} -> unprovisioned`, dryRun, () => deps.registry.reset(thingName, reason, { fromBlocked: revoke }));
  return { thingName, action: 'reset', from: current.prov_status, to: 'unprovisioned', dryRun, steps: [...certificates, registry.step], ...(registry.record ? { record: registry.record } : {}) };
}
